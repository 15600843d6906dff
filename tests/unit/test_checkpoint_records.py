"""The checkpoint, cosignature and refusal records, and the witness's verdicts without a broker
(proofs chained through checkpoints it saw but did not cosign, forks, shrinks, forgeries)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiokafka.structs import ConsumerRecord

from consumers.checkpoints import checkpointer as checkpointer_module
from consumers.checkpoints.checkpointer import Checkpointer, Head
from consumers.checkpoints.witness import Witness, WitnessState
from schemas.alerts import PLATFORM_ORG
from schemas.checkpoints import (
    CheckpointRecord,
    CosignatureRecord,
    Refusal,
    RefusalKind,
    RefusalRecord,
    verify_cosignature_record,
    witness_key_name,
)
from schemas.signing import PrivateKey
from schemas.tlog import Checkpoint, MerkleLog, TlogError, cosign, leaf_hash, sign_checkpoint
from transport.access import KafkaAccess

ORIGIN = "emining/emining.projects.v1/0"
PLATFORM = PrivateKey.generate(PLATFORM_ORG)
WITNESS = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")


def _log(n: int, tag: bytes = b"") -> MerkleLog:
    log = MerkleLog()
    for i in range(n):
        log.append(leaf_hash(tag + i.to_bytes(4, "big")))
    return log


def _record(offset: int, log: MerkleLog, size: int, previous: int | None,
            key: PrivateKey = PLATFORM, origin: str = ORIGIN) -> ConsumerRecord[bytes, bytes]:
    cp = Checkpoint(origin, size, log.root(size))
    proof = tuple(log.consistency_proof(previous, size)) if previous else ()
    value = CheckpointRecord(sign_checkpoint(cp, key.seed), 1, previous, proof).to_value()
    return ConsumerRecord("emining.checkpoints.v1", 0, offset, 0, 0, origin.encode(), value,
                          None, 0, len(value), [])


def _witness(tmp_path: Path) -> Witness:
    return Witness(KafkaAccess("localhost:1"), WITNESS, platform_keys=[PLATFORM.public_key],
                   state_dir=tmp_path)


def test_records_round_trip() -> None:
    log = _log(5)
    rec = _record(0, log, 5, 3)
    parsed = CheckpointRecord.from_value(rec.value)
    assert parsed.checkpoint == Checkpoint(ORIGIN, 5, log.root())
    assert parsed.previous_size == 3
    assert list(parsed.consistency) == log.consistency_proof(3)
    name = witness_key_name(WITNESS.org)
    line = cosign(parsed.checkpoint, name, WITNESS.seed, 1_700_000_000)
    cosig = CosignatureRecord(ORIGIN, 5, log.root(), WITNESS.org, name, line)
    again = CosignatureRecord.from_value(cosig.to_value())
    assert again == cosig
    assert verify_cosignature_record(again, [WITNESS.public_key]) == 1_700_000_000
    assert verify_cosignature_record(again, [PLATFORM.public_key]) is None
    refusal = Refusal(WITNESS.org, ORIGIN, RefusalKind.FORK, "t:0:9", "ab" * 32, 17)
    made = RefusalRecord.make(refusal, WITNESS.seed, "why", "the refused value")
    back = RefusalRecord.from_value(made.to_value())
    assert back.refusal == refusal
    assert back.verify([WITNESS.public_key])
    assert not back.verify([PLATFORM.public_key])
    tampered = made.to_value().replace(b'"kind":"fork"', b'"kind":"shrink"')
    with pytest.raises(TlogError):
        RefusalRecord.from_value(tampered)
    for bad in (b"", b"[]", b'{"note":"x","time":-1,"previous_size":null,"consistency":[]}'):
        with pytest.raises(TlogError):
            CheckpointRecord.from_value(bad)


def test_witness_chains_proofs_and_refuses_what_does_not_extend(tmp_path: Path) -> None:
    witness = _witness(tmp_path)
    log = _log(40)
    verdict, _ = witness.judge(_record(0, log, 10, None))
    assert verdict.cosign  # first use
    witness.state.heads[ORIGIN] = (10, log.root(10))
    # 10 -> 20 seen (not cosigned: say it was skipped), then 20 -> 30: chained through 20
    witness._remember(r20 := _record(1, log, 20, 10), Checkpoint(ORIGIN, 20, log.root(20)))
    assert r20.offset == 1
    verdict, _ = witness.judge(_record(2, log, 30, 20))
    assert verdict.cosign, verdict
    # a larger head with no proof chain to the last cosigned one is refused: the alarm rises
    verdict, _ = witness.judge(_record(3, log, 35, 33))
    assert (verdict.cosign, verdict.kind) == (False, RefusalKind.BAD_PROOF)
    assert "no consistency proof from the cosigned head of size 10" in verdict.detail
    verdict, _ = witness.judge(_record(3, log, 36, None))  # no proof at all
    assert (verdict.cosign, verdict.kind) == (False, RefusalKind.BAD_PROOF)
    # a rewritten history: another log's head of size 30 with a proof from 20
    other = _log(40, b"x")
    verdict, _ = witness.judge(_record(4, other, 30, 20))
    assert (verdict.cosign, verdict.kind) == (False, RefusalKind.BAD_PROOF)
    verdict, _ = witness.judge(_record(5, other, 36, 10))
    assert (verdict.cosign, verdict.kind) == (False, RefusalKind.BAD_PROOF)
    # once the good head of size 30 was seen signed, another root at 30 is a fork
    witness._remember(_record(2, log, 30, 20), Checkpoint(ORIGIN, 30, log.root(30)))
    verdict, _ = witness.judge(_record(4, other, 30, 20))
    assert (verdict.cosign, verdict.kind) == (False, RefusalKind.FORK)
    verdict, _ = witness.judge(_record(6, log, 8, None))
    assert verdict.kind is RefusalKind.SHRINK
    verdict, _ = witness.judge(_record(7, other, 10, None))
    assert verdict.kind is RefusalKind.FORK
    verdict, _ = witness.judge(_record(8, log, 10, None))
    assert verdict.cosign  # the same head again: allowed
    stranger = PrivateKey.generate(PLATFORM_ORG)
    verdict, _ = witness.judge(_record(9, log, 12, 10, key=stranger))
    assert verdict.kind is RefusalKind.BAD_SIGNATURE
    moved = dataclasses.replace(_record(10, log, 12, 10), key=b"emining/emining.projects.v1/1")
    verdict, _ = witness.judge(moved)
    assert verdict.kind is RefusalKind.BAD_SIGNATURE  # keyed by another origin


def test_witness_state_survives_a_restart(tmp_path: Path) -> None:
    witness = _witness(tmp_path)
    witness.state.heads[ORIGIN] = (10, b"\x07" * 32)
    witness.state.next_offset = 12
    witness.state.save(witness.path)
    again = WitnessState.load(witness.path)
    assert again.heads == {ORIGIN: (10, b"\x07" * 32)}
    assert again.next_offset == 12
    assert not list(witness.path.parent.glob("*.tmp"))


def test_the_checkpointer_links_to_the_last_head_of_any_trust_anchor_key() -> None:
    """After a key rotation the new key's first proof starts at the old key's last head."""
    old_key = PrivateKey.generate(PLATFORM_ORG)
    log = _log(20)
    records = [_record(0, log, 5, None, key=old_key), _record(1, log, 10, 5, key=old_key)]

    async def fake_read(*_a: object, **_k: object) -> AsyncIterator[list[Any]]:
        yield records

    def loaded(anchors: list[bytes]) -> dict[str, Head]:
        cp = Checkpointer(KafkaAccess("localhost:1"), PLATFORM, anchors=anchors)
        with mock.patch.object(checkpointer_module, "read_to_end", fake_read):
            asyncio.run(cp.load_published())
        return cp.published

    assert loaded([]) == {}  # the old behaviour: the new key's first head has no proof
    assert loaded([old_key.public_key, PLATFORM.public_key]) == {ORIGIN: Head(10, log.root(10))}
