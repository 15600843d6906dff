"""``audit verify`` against a real broker: a checkpointed, cosigned history, then each tampering
on fresh topics of its own, detected and named by the completeness check."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from consumers.audit import Kind, verify_log
from consumers.audit.records import AuditTopics, RawRecord
from schemas import tlog
from tests.integration.audit.bus import Bus
from tests.integration.checkpoints.audit_support import (
    CN_WITNESS,
    PK_WITNESS,
    StandIn,
    checkpoint_and_witness,
    create_all,
    drop_all,
    new_topics,
    read_topic,
    recreate,
    without_checkpoints,
    witness_once,
)
from tests.unit.audit.parties import Parties
from tests.unit.audit.scenario import story
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

COMPLETENESS = {Kind.CHECKPOINT_INVALID, Kind.LOG_REWRITTEN, Kind.TAIL_DROPPED,
                Kind.CHECKPOINT_FORK, Kind.BAD_COSIGNATURE, Kind.COSIGNATURE_MISSING,
                Kind.NO_CHECKPOINTS, Kind.WITNESS_REFUSAL}


@pytest.fixture(scope="module")
def parties() -> Parties:
    return Parties.generate()


@pytest.fixture
async def topics(kafka_access: KafkaAccess) -> AsyncIterator[AuditTopics]:
    made = new_topics()
    await create_all(kafka_access, made)
    yield made
    await drop_all(kafka_access, made)


@pytest.fixture
def second_round(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The witnesses that cosign the second round of checkpoints (default: both sides)."""
    return getattr(request, "param", (PK_WITNESS, CN_WITNESS))


@pytest.fixture
async def history(kafka_access: KafkaAccess, topics: AuditTopics, parties: Parties,
                  tmp_path: Path, second_round: tuple[str, ...]) -> StandIn:
    """A small history published through the SDK in two parts, after each the checkpointer and
    the witnesses run once (the second round with consistency proofs from the first)."""
    steps = story(4)
    stand_in = StandIn(kafka_access, topics, parties)
    state = tmp_path / "witnesses"
    async with Bus(kafka_access, topics, parties, tmp_path) as bus:
        await bus.registry()
        await bus.steps(steps[: len(steps) // 2])
        stand_in.first = await checkpoint_and_witness(kafka_access, topics, parties, state)
        await bus.steps(steps[len(steps) // 2:])
        stand_in.sizes = await checkpoint_and_witness(kafka_access, topics, parties, state,
                                                      second_round)
    return stand_in


async def verify(kafka: KafkaAccess, parties: Parties, topics: AuditTopics, workers: int = 0):
    return await verify_log(kafka, parties.trust_anchor, topics=topics, workers=workers)


def complete(report) -> list:
    return [f for f in report.findings if f.kind in COMPLETENESS]


async def busiest(kafka: KafkaAccess, topic: str) -> tuple[int, list[RawRecord]]:
    parts = await read_topic(kafka, topic)
    partition = max(parts, key=lambda p: len(parts[p]))
    return partition, parts[partition]


async def test_a_clean_checkpointed_history_has_no_completeness_finding(
        kafka_access, parties, topics, history):
    report = await verify(kafka_access, parties, topics, workers=2)
    assert report.ok, report.violations
    assert report.findings == []
    done = report.completeness
    assert done is not None
    assert done.logs == 3 * 3 + 1
    published = sum(len(rs) for rs in (await read_topic(kafka_access, topics.checkpoints)).values())
    assert done.checkpoints == done.valid == done.cosigned_both == published > done.logs
    assert done.records_checkpointed == report.records
    assert done.records_pending == 0
    assert all(h.sides == ["CN", "PK"] for h in done.heads)


async def test_a_dropped_tail_is_named_with_its_counts(kafka_access, parties, topics, history):
    partition, records = await busiest(kafka_access, topics.projects)
    assert len(records) > 3
    await recreate(kafka_access, topics.projects,
                   lambda parts: {**parts, partition: parts[partition][:-2]})
    report = await verify(kafka_access, parties, topics)
    [found] = complete(report)
    assert (found.kind, found.topic, found.partition, found.offset) == (
        Kind.TAIL_DROPPED, topics.projects, partition, len(records) - 2)
    assert f"covers {len(records)} records, the log has {len(records) - 2}" in found.reason
    assert not report.ok


async def test_one_rewritten_record_is_placed_in_a_range_holding_it(
        kafka_access, parties, topics, history):
    partition, records = await busiest(kafka_access, topics.approvals)
    at = len(records) // 2

    def rewrite(parts):
        mine = parts[partition]
        mine[at] = mine[at]._replace(value=mine[at].value.replace(b'"', b'"', 1) + b" ")
        return parts

    await recreate(kafka_access, topics.approvals, rewrite)
    report = await verify(kafka_access, parties, topics)
    [found] = complete(report)
    assert (found.kind, found.topic, found.partition) == (
        Kind.LOG_REWRITTEN, topics.approvals, partition)
    first, last = map(int, re.search(r"offsets (\d+)\.\.(\d+)", found.reason).groups())
    assert first <= at <= last
    assert "rewritten or reordered" in found.reason


async def test_two_records_swapped_are_caught_in_a_range_holding_both(
        kafka_access, parties, topics, history):
    partition, _records = await busiest(kafka_access, topics.projects)
    i, j = 0, history.first[(topics.projects, partition)] - 1  # both below the first checkpoint
    assert i < j

    def swap(parts):
        mine = parts[partition]
        mine[i], mine[j] = mine[j]._replace(offset=i), mine[i]._replace(offset=j)
        return parts

    await recreate(kafka_access, topics.projects, swap)
    report = await verify(kafka_access, parties, topics)
    [found] = complete(report)
    assert (found.kind, found.partition) == (Kind.LOG_REWRITTEN, partition)
    first, last = map(int, re.search(r"offsets (\d+)\.\.(\d+)", found.reason).groups())
    assert first <= i < j <= last


async def test_a_second_root_signed_for_one_size_is_a_fork_the_witnesses_refuse(
        kafka_access, parties, topics, history, tmp_path):
    partition, records = await busiest(kafka_access, topics.shipments)
    await history.checkpoint(topics.shipments, partition, len(records), b"\x42" * 32,
                             previous_size=len(records), proof=[])
    assert await witness_once(kafka_access, topics, parties, tmp_path / "witnesses") == 2
    report = await verify(kafka_access, parties, topics)
    refusals = [f for f in complete(report) if f.kind is Kind.WITNESS_REFUSAL]
    assert {f.source for f in refusals} == {PK_WITNESS, CN_WITNESS}
    assert all(": fork" in f.reason for f in refusals)
    assert report.completeness.refusals == 2
    forks = [f for f in complete(report) if f.kind is Kind.CHECKPOINT_FORK]
    assert len(forks) == 1
    assert forks[0].topic == topics.checkpoints
    assert "fork" in forks[0].reason
    assert tlog.origin_for(topics.shipments, partition) in forks[0].reason
    # the forged head is the one no witness cosigned: that is reported too, as a warning
    assert {f.kind for f in complete(report)} == {
        Kind.CHECKPOINT_FORK, Kind.COSIGNATURE_MISSING, Kind.WITNESS_REFUSAL}


@pytest.mark.parametrize("second_round", [(PK_WITNESS,)], indirect=True)
async def test_checkpoints_one_side_did_not_cosign_are_reported(
        kafka_access, parties, topics, history):
    report = await verify(kafka_access, parties, topics)
    missing = [f for f in complete(report) if f.kind is Kind.COSIGNATURE_MISSING]
    second = {tp: size for tp, size in history.sizes.items() if history.first.get(tp) != size}
    assert second  # the second round checkpointed logs that grew
    assert len(missing) == len(second)
    for f in missing:
        assert "has no valid cosignature from a CN-side witness" in f.reason
        assert f.topic == topics.checkpoints
        assert f.is_warning
    assert report.ok, report.violations  # warnings only
    grown = {tlog.origin_for(*tp): size for tp, size in second.items()}
    for head in report.completeness.heads:
        if head.origin in grown:
            assert (head.size, head.sides) == (grown[head.origin], ["PK"])
        else:
            assert head.sides == ["CN", "PK"]


async def test_no_checkpoints_topic_is_one_warning_not_a_crash(
        kafka_access, parties, topics, history):
    report = await verify(kafka_access, parties, without_checkpoints(topics))
    assert report.ok
    [found] = report.findings
    assert (found.kind, found.reason.split(":")[0]) == (Kind.NO_CHECKPOINTS, "no checkpoints")
    assert report.completeness is not None
    assert report.completeness.records_pending == report.records
