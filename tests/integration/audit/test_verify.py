"""``audit verify`` against a real broker: each tampering is caught at its offset, nothing else."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from consumers.audit import Kind, verify_log
from consumers.audit.snapshot import LogReader
from schemas.envelope import seal, to_record
from schemas.signing import PrivateKey
from tests.integration.audit.conftest import inject, moved
from tests.unit.audit import parties as pa
from tests.unit.audit.scenario import event, story

pytestmark = pytest.mark.integration

T = datetime(2025, 9, 1, 8, tzinfo=UTC)


def _project(n: int, firm: str = pa.FIRM_A):
    return event("pk.emining.project.registered", project_id=f"PRJ-BA-CHG-{n:04d}",
                 operator_uscc=pa.USCC[firm])


async def _record_at(kafka, topic, partition, offset):
    async with LogReader(kafka) as reader:
        snap = await reader.snapshot([topic])
        async for batch in reader.read(snap, [topic]):
            for rec in batch:
                if (rec.partition, rec.offset) == (partition, offset):
                    return rec
    raise AssertionError("record not found")


async def test_clean_scenario_verifies_with_both_workers(kafka_access, bus, parties):
    results = await bus.steps(story(15))
    report = await verify_log(kafka_access, parties.trust_anchor, topics=bus.topics,
                              workers=2)
    assert report.ok, report.violations
    # nothing wrong; the only warning: no checkpoints of this test's topics prove completeness
    assert [f.kind for f in report.findings] == [Kind.NO_CHECKPOINTS]
    registry_events = len(parties.registry_events())
    assert report.records == report.events == len(results) + registry_events
    assert sum(sum(p.values()) for p in report.end_offsets.values()) == report.records


async def test_each_tampering_is_caught_at_its_offset_with_its_kind(
    kafka_access, bus, parties, raw
):
    topics = bus.topics
    await bus.steps(story(6))
    firm = parties.keys[pa.FIRM_A]
    expected: set[tuple[str, int, int, Kind]] = set()

    # 1. a forged signature: valid headers of a new event, altered data
    env = seal(moved(_project(801), topics), source=f"{pa.FIRM_A}/app", signer=firm.signer(),
               sequence=999, prevhash="0" * 64, time=T)
    rec = to_record(env)
    forged = dict(env.data_json, district="Quetta")
    meta = await raw.send_and_wait(topics.projects, json.dumps(forged, sort_keys=True).encode(),
                                   key=rec.key, headers=rec.headers)
    expected.add((meta.topic, meta.partition, meta.offset, Kind.BAD_SIGNATURE))

    # 2. a skipped sequence number (its own source, so the SDK's chain stays whole)
    gappy = await bus.publisher(pa.FIRM_A, "gappy")
    first = await gappy.publish(moved(_project(802), topics), time=T)
    skipped = seal(moved(_project(803), topics), source=f"{pa.FIRM_A}/gappy",
                   signer=firm.signer(), sequence=3, prevhash="1" * 64, time=T)
    expected.add((*await inject(raw, topics.projects, skipped), Kind.SEQUENCE_GAP))

    # 3. an old record replayed byte for byte (a warning), and under a new id (a replay)
    old = await _record_at(kafka_access, first.topic, first.partition, first.offset)
    meta = await raw.send_and_wait(old.topic, old.value, key=old.key, headers=list(old.headers),
                                   partition=old.partition)
    copy_at = (meta.topic, meta.partition, meta.offset, Kind.REDELIVERY)
    again = seal(moved(_project(802), topics), source=f"{pa.FIRM_A}/gappy", signer=firm.signer(),
                 sequence=1, prevhash="0" * 64, time=T, event_id=str(uuid.uuid4()))
    expected.add((*await inject(raw, topics.projects, again), Kind.REPLAY))

    # 4. a licensing authority granting a title outside its province (through the SDK)
    sindh = await bus.publisher(pa.SD_MMD)
    grant = await sindh.publish(moved(event("pk.emining.approval.licence.granted",
                                            title_number="BA-EL-2025-0777"), topics), time=T)
    expected.add((grant.topic, grant.partition, grant.offset, Kind.UNAUTHORISED))

    # 5. a source's history rewritten and re-signed with another organisation's key
    rewritten = seal(moved(_project(802, pa.FIRM_B), topics), source=f"{pa.FIRM_A}/gappy",
                     signer=parties.keys[pa.BA_MMDD].signer(), sequence=1, prevhash="0" * 64,
                     time=T, event_id=first.id)
    expected.add((*await inject(raw, topics.projects, rewritten), Kind.REWRITE))

    # 6. the same with a key no organisation holds: just a bad signature
    stranger = PrivateKey.generate(pa.FIRM_A)
    unknown = seal(moved(_project(802), topics), source=f"{pa.FIRM_A}/gappy",
                   signer=stranger.signer(), sequence=1, prevhash="0" * 64, time=T)
    expected.add((*await inject(raw, topics.projects, unknown), Kind.BAD_SIGNATURE))

    report = await verify_log(kafka_access, parties.trust_anchor, topics=topics, workers=2)
    found = {(f.topic, f.partition, f.offset, f.kind) for f in report.violations}
    assert found == expected
    assert {(f.topic, f.partition, f.offset, f.kind) for f in report.warnings
            if f.kind is not Kind.NO_CHECKPOINTS} == {copy_at}
    assert not report.ok
    by_kind = {f.kind: f for f in report.violations}
    assert "PK-BA" in by_kind[Kind.UNAUTHORISED].reason
    assert pa.BA_MMDD in by_kind[Kind.REWRITE].reason
    assert "1 event(s) missing" in by_kind[Kind.SEQUENCE_GAP].reason
    doc = report.to_json()
    assert doc["ok"] is False
    assert {v["kind"] for v in doc["violations"]} == {k.value for *_, k in expected}
    assert set(doc["violations"][0]) >= {"topic", "partition", "offset", "event_id", "source",
                                         "kind", "reason"}
