"""Issue 21 review 4: a revoked (stolen) witness key cannot cosign or refuse by backdating the
time it declares; the key is checked at the record's broker timestamp."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from aiokafka.structs import ConsumerRecord

from consumers.audit.findings import Kind
from consumers.audit.leaves import origin_of
from consumers.checkpoints import checkpointer as checkpointer_module
from consumers.checkpoints import relay as relay_module
from schemas import tlog
from schemas.checkpoints import Refusal, RefusalKind, RefusalRecord, sha256_hex
from schemas.registry import Registry
from tests.unit.audit import parties as pa
from tests.unit.audit.tlogbus import CN_WITNESS, PK_WITNESS, T0, TOPIC, Bus, records

REVOKED = T0 + 3600


@pytest.fixture(scope="module")
def parties() -> pa.Parties:
    return pa.Parties.generate()


def revoked_registry(parties: pa.Parties) -> Registry:
    """CN's witness key ends at ``REVOKED`` (it was stolen)."""
    registry = parties.registry()
    keys = registry.orgs[CN_WITNESS].keys
    for name, key in list(keys.items()):
        keys[name] = dataclasses.replace(
            key, valid_until=datetime.fromtimestamp(REVOKED, UTC), revoked=True)
    return registry


def _cosigned(parties: pa.Parties, at: int, written_ms: int) -> list[Any]:
    bus = Bus(parties, parties.operator)
    log = records(5)
    body = bus.checkpoint(log, 5, witnesses=(PK_WITNESS,))
    root = tlog.Checkpoint.parse(body).root
    bus.cosign(origin_of(TOPIC, 0), 5, root, body, CN_WITNESS, at=at, written_ms=written_ms)
    findings, _ = bus.judge(parties, log, revoked_registry(parties))
    return [(f.kind, f.source) for f in findings if f.kind is Kind.BAD_COSIGNATURE]


def test_an_honest_cosignature_before_the_revocation_counts(parties):
    assert _cosigned(parties, T0, T0 * 1000) == []


def test_a_backdated_cosignature_written_after_the_revocation_is_bad(parties):
    # declares a time the key was valid, but the record was written after the revocation
    assert _cosigned(parties, T0, (REVOKED + 7200) * 1000) == [
        (Kind.BAD_COSIGNATURE, CN_WITNESS)]


def test_a_key_invalid_at_the_records_timestamp_is_bad_even_within_the_skew(parties):
    assert _cosigned(parties, REVOKED - 100, (REVOKED + 100) * 1000) == [
        (Kind.BAD_COSIGNATURE, CN_WITNESS)]


def test_a_cosignature_declared_before_its_checkpoint_was_made_is_bad(parties):
    bus = Bus(parties, parties.operator)
    log = records(5)
    body = bus.checkpoint(log, 5, witnesses=(PK_WITNESS,))  # made at T0
    root = tlog.Checkpoint.parse(body).root
    bus.cosign(origin_of(TOPIC, 0), 5, root, body, CN_WITNESS, at=T0 - 86400,
               written_ms=(T0 - 86400) * 1000)
    findings, _ = bus.judge(parties, log)
    [bad] = [f for f in findings if f.kind is Kind.BAD_COSIGNATURE]
    assert "before the checkpoint was made" in bad.reason


def _relay(parties: pa.Parties, registry: Registry, said_at: int, written_ms: int) -> int:
    cp_value = b"the refused checkpoint"
    checkpoint = ConsumerRecord("emining.checkpoints.v1", 0, 1, 0, 0, b"k", cp_value, None, 0,
                                len(cp_value), ())
    refusal = Refusal(CN_WITNESS, origin_of(TOPIC, 0), RefusalKind.FORK,
                      "emining.checkpoints.v1:0:1", sha256_hex(cp_value), said_at)
    value = RefusalRecord.make(refusal, parties.keys[CN_WITNESS].seed, "d", "").to_value()
    rec = ConsumerRecord("emining.refusals.v1", 0, 0, written_ms, 0, b"k", value, None, 0,
                         len(value), ())

    async def fake_read(_kafka: object, topics: list[str], **_k: object
                        ) -> AsyncIterator[list[Any]]:
        yield [checkpoint] if topics == ["emining.checkpoints.v1"] else [rec]

    async def loader() -> Registry:
        return registry

    cp = checkpointer_module.Checkpointer(mock.Mock(), mock.Mock(), registry=loader)
    with mock.patch.object(relay_module, "read_to_end", fake_read):
        return asyncio.run(cp.relay_refusals())


def test_a_backdated_refusal_by_a_revoked_key_is_not_relayed(parties):
    registry = revoked_registry(parties)
    assert _relay(parties, registry, T0, T0 * 1000) == 1
    assert _relay(parties, registry, T0, (REVOKED + 7200) * 1000) == 0
    assert _relay(parties, registry, REVOKED - 100, (REVOKED + 100) * 1000) == 0


def test_a_backdated_refusal_is_not_reported_by_the_audit(parties):
    bus = Bus(parties, parties.operator)
    log = records(8)
    bus.checkpoint(log, 8)
    bus.refuse(origin_of(TOPIC, 0), CN_WITNESS)
    honest = bus.refusals[-1]
    bus.refusals[-1] = honest._replace(timestamp_ms=(REVOKED + 7200) * 1000)
    findings, summary = bus.judge(parties, log, revoked_registry(parties))
    assert summary.refusals == 0
    assert [f for f in findings if f.kind is Kind.WITNESS_REFUSAL] == []
    bus.refusals[-1] = honest
    _, summary = bus.judge(parties, log, revoked_registry(parties))
    assert summary.refusals == 1
