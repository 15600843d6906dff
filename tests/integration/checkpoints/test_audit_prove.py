"""``emining audit prove`` and ``audit verify`` through the CLI against a real broker; the proof
verifies offline with docs/verify_proof.py (stdlib and ``cryptography`` only), tampered copies
do not."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consumers.audit.records import AuditTopics
from infra.cli import app
from schemas.signing import b64
from tests.integration.audit.bus import Bus
from tests.integration.checkpoints.audit_support import (
    CN_WITNESS,
    PK_WITNESS,
    StandIn,
    checkpoint_and_witness,
    create_all,
    drop_all,
    new_topics,
    topic_args,
)
from tests.kafka_support import access_env
from tests.unit.audit.parties import Parties
from tests.unit.audit.scenario import story

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[3] / "docs" / "verify_proof.py"


@pytest.fixture(scope="module")
def parties() -> Parties:
    return Parties.generate()


@pytest.fixture
async def topics(kafka_access):
    made = new_topics()
    await create_all(kafka_access, made)
    yield made
    await drop_all(kafka_access, made)


def _env(kafka_access, parties, tmp_path) -> dict[str, str]:
    return {**access_env(kafka_access), "EMINING_TRUST_ANCHOR": b64(parties.operator.public_key),
            "EMINING_STATE_DIR": str(tmp_path / "cli-state")}


async def _invoke(args: list[str], env: dict[str, str]):
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


def _check(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True,
                          text=True, check=False, timeout=60)


async def _history(kafka_access, topics: AuditTopics, parties: Parties, tmp_path: Path):
    async with Bus(kafka_access, topics, parties, tmp_path) as bus:
        await bus.registry()
        published = await bus.steps(story(3))
    await checkpoint_and_witness(kafka_access, topics, parties, tmp_path / "witnesses")
    return published


async def test_a_proof_from_the_cli_verifies_offline_and_a_flipped_byte_fails_it(
        kafka_access, parties, topics, tmp_path):
    published = await _history(kafka_access, topics, parties, tmp_path)
    target = published[len(published) // 2]
    env = _env(kafka_access, parties, tmp_path)
    out = tmp_path / "proof.json"
    done = await _invoke(["audit", "prove", target.id, "--out", str(out),
                          *topic_args(topics)], env)
    assert done.exit_code == 0, done.output
    assert "cosigned by" in done.output
    proof = json.loads(out.read_text())
    assert (proof["leaf"]["topic"], proof["leaf"]["partition"], proof["leaf"]["offset"]) == (
        target.topic, target.partition, target.offset)
    assert proof["missing_sides"] == []
    assert {c["witness"] for c in proof["cosignatures"]} == {PK_WITNESS, CN_WITNESS}

    own = _check(out)
    assert own.returncode == 2, own.stdout  # checked, but with keys the proof brought itself
    assert "no trusted keys given" in own.stdout
    assert own.stdout.rstrip().endswith("UNVERIFIED: keys taken from the proof itself")
    trusted = _check(out, "--platform-key", b64(parties.operator.public_key),
                     "--witness", f"pk:{PK_WITNESS}={b64(parties.keys[PK_WITNESS].public_key)}",
                     "--witness", f"cn:{CN_WITNESS}={b64(parties.keys[CN_WITNESS].public_key)}",
                     "--min-cosignatures", "2", "--require-sides", "pk,cn")
    assert trusted.returncode == 0, trusted.stdout
    assert trusted.stdout.rstrip().endswith("VERIFIED")

    value = bytearray(base64.b64decode(proof["leaf"]["value"]))
    value[10] ^= 0x20
    bad = tmp_path / "bad-value.json"
    bad.write_text(json.dumps({**proof, "leaf": {**proof["leaf"],
                                                 "value": base64.b64encode(value).decode()}}))
    failed = _check(bad)
    assert failed.returncode == 1
    assert "is not included in this checkpoint" in failed.stdout
    if proof["inclusion_path"]:
        node = bytearray(base64.b64decode(proof["inclusion_path"][0]))
        node[0] ^= 0x01
        path = [base64.b64encode(node).decode(), *proof["inclusion_path"][1:]]
        bad.write_text(json.dumps({**proof, "inclusion_path": path}))
        assert _check(bad).returncode == 1


async def test_verify_on_the_cli_shows_completeness_and_exits_1_on_a_fork(
        kafka_access, parties, topics, tmp_path):
    published = await _history(kafka_access, topics, parties, tmp_path)
    env = _env(kafka_access, parties, tmp_path)
    clean = await _invoke(["audit", "verify", "--workers", "0", *topic_args(topics)], env)
    assert clean.exit_code == 0, clean.output
    assert "completeness:" in clean.output
    assert "0 records not yet checkpointed" in clean.output

    stand_in = StandIn(kafka_access, topics, parties)
    counts = Counter(r.partition for r in published if r.topic == topics.projects)
    partition, count = counts.most_common(1)[0]
    assert count > 1
    await stand_in.checkpoint(topics.projects, partition, 1, b"\x11" * 32, previous_size=None,
                              proof=[])  # a smaller checkpoint: the log went back, differently
    forked = await _invoke(["audit", "verify", "--json", "--workers", "0", *topic_args(topics)],
                           env)
    assert forked.exit_code == 1, forked.output
    doc = json.loads(forked.stdout)
    assert {v["kind"] for v in doc["violations"]} == {"checkpoint_fork", "log_rewritten"}
    [fork] = [v for v in doc["violations"] if v["kind"] == "checkpoint_fork"]
    assert "smaller than the earlier" in fork["reason"]
    assert doc["completeness"]["valid"] == doc["completeness"]["checkpoints"]
    assert "the newest checkpoint" not in forked.stdout


async def test_prove_names_what_is_missing(kafka_access, parties, topics, tmp_path):
    env = _env(kafka_access, parties, tmp_path)
    done = await _invoke(["audit", "prove", "no-such-event", *topic_args(topics)], env)
    assert done.exit_code == 1
    assert "is not on" in done.output
