"""A proof made by ``audit prove``'s code verifies with docs/verify_proof.py alone; any flipped
byte (record, path, checkpoint, cosignature) or a wrong trusted key makes it fail."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from consumers.audit.cosigned import read_checkpoints
from consumers.audit.leaves import leaves_of, origin_of
from consumers.audit.proofs import ProofError, choose, proof_document
from schemas import tlog
from schemas.signing import PrivateKey
from tests.unit.audit import parties as pa
from tests.unit.audit.tlogbus import CN_WITNESS, PK_WITNESS, TOPIC, Bus, records

SCRIPT = Path(__file__).parents[3] / "docs" / "verify_proof.py"


@pytest.fixture(scope="module")
def parties() -> pa.Parties:
    return pa.Parties.generate()


def make_proof(parties: pa.Parties, index: int = 6, *, newest_cosigned: bool = True
               ) -> dict[str, Any]:
    log = records(13, partition=2)
    bus = Bus(parties, parties.operator)
    bus.checkpoint(log, 5)
    bus.checkpoint(log, 11)
    bus.checkpoint(log, 13, witnesses=(PK_WITNESS, CN_WITNESS) if newest_cosigned else
                   (PK_WITNESS,))
    registry = parties.registry()
    judged = read_checkpoints(bus.checkpoints, bus.cosignatures, parties.trust_anchor, registry)
    leaves = leaves_of(log)[(TOPIC, 2)]
    choice = choose(judged.checkpoints[origin_of(TOPIC, 2)], judged, leaves, index)
    return proof_document(log[index], f"id-{index}", index, leaves, choice,
                          parties.operator.public_key, registry)


def run(proof: dict[str, Any], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof), encoding="utf-8")
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True,
                          text=True, check=False, timeout=60)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def flip(text: str, at: int = 0) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 0x01
    return b64(bytes(raw))


def test_the_newest_checkpoint_cosigned_by_both_sides_is_chosen(parties):
    proof = make_proof(parties)
    assert (proof["tree_size"], proof["leaf_index"], proof["missing_sides"]) == (13, 6, [])
    assert sorted(c["side"] for c in proof["cosignatures"]) == ["CN", "PK"]
    assert tlog.verify_inclusion(base64.b64decode(proof["leaf_hash"]), 6, 13,
                                 [base64.b64decode(p) for p in proof["inclusion_path"]],
                                 base64.b64decode(proof["checkpoint"]["root"]))


def test_without_both_sides_on_the_newest_the_older_cosigned_one_is_chosen(parties):
    proof = make_proof(parties, newest_cosigned=False)
    assert (proof["tree_size"], proof["missing_sides"]) == (11, [])


def test_a_record_past_every_checkpoint_has_no_proof_yet(parties):
    log = records(4)
    bus = Bus(parties, parties.operator)
    bus.checkpoint(log, 2)
    judged = read_checkpoints(bus.checkpoints, bus.cosignatures, parties.trust_anchor,
                              parties.registry())
    with pytest.raises(ProofError, match="no checkpoint covers this record yet"):
        choose(judged.checkpoints[origin_of(TOPIC, 0)], judged, leaves_of(log)[(TOPIC, 0)], 3)


def test_with_the_proofs_own_keys_it_checks_but_says_unverified(parties, tmp_path):
    done = run(make_proof(parties), tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no trusted keys given" in done.stdout
    assert done.stdout.count("OK  cosigned by") == 2
    assert done.stdout.rstrip().endswith("UNVERIFIED: keys taken from the proof itself")
    assert "\nVERIFIED" not in done.stdout


def _trusted(parties: pa.Parties, proof: dict[str, Any]) -> list[str]:
    """The platform key and each witness's key with its side as the test knows it."""
    return ["--platform-key", b64(parties.operator.public_key),
            *[f"--witness={w['side'].lower()}:{w['org']}={w['public_key']}"
              for w in proof["keys"]["witnesses"]]]


def test_the_proof_verifies_with_trusted_keys_and_sides(parties, tmp_path):
    proof = make_proof(parties)
    done = run(proof, tmp_path, *_trusted(parties, proof), "--min-cosignatures", "2",
               "--require-sides", "pk,cn")
    assert done.returncode == 0, done.stdout
    assert "no trusted keys given" not in done.stdout
    assert done.stdout.rstrip().endswith("VERIFIED")


def test_the_proofs_event_id_must_be_the_records_ce_id(parties, tmp_path):
    proof = make_proof(parties)
    proof["event_id"] = "id-7"  # the record proven is id-6
    done = run(proof, tmp_path, *_trusted(parties, proof))
    assert done.returncode == 1, done.stdout
    assert "the proof is for event 'id-7', the record is event 'id-6'" in done.stdout


def test_one_witness_twice_counts_once(parties, tmp_path):
    proof = make_proof(parties)
    first = proof["cosignatures"][0]
    proof["cosignatures"] = [first, {**first, "side": "CN" if first["side"] == "PK" else "PK"}]
    done = run(proof, tmp_path, *_trusted(parties, proof), "--min-cosignatures", "2")
    assert done.returncode == 1, done.stdout
    assert "1 distinct trusted witness key(s) cosigned, at least 2 required" in done.stdout


def test_sides_come_from_the_trusted_keys_not_from_the_proof(parties, tmp_path):
    proof = make_proof(parties)
    first = proof["cosignatures"][0]
    proof["cosignatures"] = [first, {**first, "side": "CN" if first["side"] == "PK" else "PK"}]
    key = next(w["public_key"] for w in proof["keys"]["witnesses"]
               if w["org"] == first["witness"])
    trusted = ["--platform-key", b64(parties.operator.public_key),
               f"--witness={first['witness']}={key}"]  # no side given: none is believed
    done = run(proof, tmp_path, *trusted, "--require-sides", "pk,cn")
    assert done.returncode == 1, done.stdout
    assert "no cosignature by a trusted key of side(s) cn, pk" in done.stdout


@pytest.mark.parametrize("tamper", [
    "value", "timestamp", "path", "index", "note", "cosignature", "platform key",
])
def test_any_change_makes_it_fail(parties, tmp_path, tamper):
    proof = make_proof(parties)
    trusted: list[str] = []
    if tamper == "value":
        proof["leaf"]["value"] = flip(proof["leaf"]["value"], 3)
    elif tamper == "timestamp":
        proof["leaf"]["timestamp_ms"] += 1
    elif tamper == "path":
        proof["inclusion_path"][1] = flip(proof["inclusion_path"][1], 31)
    elif tamper == "index":
        proof["leaf_index"] = 7
    elif tamper == "note":
        proof["checkpoint"]["note"] = proof["checkpoint"]["note"].replace("\n13\n", "\n14\n")
        proof["tree_size"] = 14
    elif tamper == "cosignature":
        line = proof["cosignatures"][0]["line"].rstrip("\n")
        head, _, blob = line.rpartition(" ")
        proof["cosignatures"][0]["line"] = f"{head} {flip(blob, 40)}\n"
    else:
        trusted = ["--platform-key", b64(PrivateKey.generate(pa.OPERATOR_ORG).public_key)]
    done = run(proof, tmp_path, *trusted)
    assert done.returncode == 1, done.stdout
    assert "FAILED" in done.stdout
    assert "VERIFIED" not in done.stdout
