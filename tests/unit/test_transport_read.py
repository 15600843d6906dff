"""``transport.read`` on a scripted consumer: the cases a live broker will not stage on demand
(a log that ends in a gap, a broker that stops sending, a batch read again after a seek back)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from transport.kafka import TopicPartition
from transport.read import behind, drain, fetch_some, offsets_for_times, poll

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


@dataclass
class Rec:
    partition: int
    offset: int
    topic: str = "t"


@dataclass
class Scripted:
    """Each ``getmany`` takes the next step: (records per partition, positions after it)."""

    steps: list[tuple[dict[TopicPartition, list[Rec]], dict[TopicPartition, int]]]
    positions: dict[TopicPartition, int]
    paused: set[TopicPartition] = field(default_factory=set)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, *tps: TopicPartition, **_: Any) -> dict[TopicPartition, list[Rec]]:
        if not self.steps:
            await asyncio.sleep(0.01)  # a fetch that waited and got nothing
            return {}
        records, positions = self.steps.pop(0)
        self.positions |= positions
        return {tp: rs for tp, rs in records.items() if not tps or tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self.paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused.difference_update(tps)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)


async def _all(consumer: Any, ends: dict[TopicPartition, int], **kw: Any) -> list[list[Rec]]:
    return [batch async for batch in drain(consumer, ends, fetch_ms=1, **kw)]


async def test_a_log_ending_in_a_gap_is_done_and_later_records_wait_for_the_next_read() -> None:
    consumer = Scripted(
        steps=[({TP0: [Rec(0, 0), Rec(0, 1)], TP1: [Rec(1, 5), Rec(1, 6), Rec(1, 7)]},
                {TP0: 2, TP1: 8}),
               ({}, {TP0: 4})],  # offsets 2-3 of partition 0: a gap (markers), no records
        positions={TP0: 0, TP1: 5})
    batches = await _all(consumer, {TP0: 4, TP1: 7}, timeout_s=5)
    assert [[(r.partition, r.offset) for r in b] for b in batches] == [
        [(0, 0), (0, 1), (1, 5), (1, 6)]]
    assert consumer.seeks == [(TP1, 7)]  # offset 7 came after the end: put back for later
    assert consumer.paused == {TP0, TP1}


async def test_nothing_to_read_reads_nothing() -> None:
    consumer = Scripted(steps=[({TP0: [Rec(0, 3)]}, {TP0: 4})], positions={TP0: 3})
    assert await _all(consumer, {TP0: 3}, timeout_s=5) == []
    assert consumer.steps  # not even one fetch


async def test_a_stall_ends_in_a_timeout_naming_the_partitions() -> None:
    consumer = Scripted(steps=[({TP0: [Rec(0, 0)]}, {TP0: 1})], positions={TP0: 0, TP1: 0})
    got: list[list[Rec]] = []

    async def read() -> None:
        async for batch in drain(consumer, {TP0: 3, TP1: 2}, timeout_s=0.2, fetch_ms=1):
            got.append(batch)  # noqa: PERF401 - what came before the stall is kept

    with pytest.raises(TimeoutError, match=r"no records from \['t\[0\]', 't\[1\]'\] for 0.2s"):
        await read()
    assert [[r.offset for r in b] for b in got] == [[0]]
    assert consumer.paused == {TP0, TP1}


async def test_a_caller_slower_than_the_timeout_with_a_batch_is_no_stall() -> None:
    """Found by review: the time a caller spent with a batch counted as the broker's silence, so
    one empty fetch after a long batch (replay applying 1,000 records) ended the read."""
    consumer = Scripted(steps=[({TP0: [Rec(0, 0)]}, {TP0: 1}), ({}, {}),
                               ({TP0: [Rec(0, 1)]}, {TP0: 2})], positions={TP0: 0})
    got = []
    async for batch in drain(consumer, {TP0: 2}, timeout_s=0.2, fetch_ms=1):
        got.append([r.offset for r in batch])
        await asyncio.sleep(0.3)  # longer than timeout_s
    assert got == [[0], [1]]


async def test_fetch_some_reads_again_after_a_seek_back_and_stops_once_nothing_is_behind() -> None:
    consumer = Scripted(
        steps=[({}, {}),  # a fetch that brings nothing is skipped, not returned
               ({TP0: [Rec(0, 0), Rec(0, 1)]}, {TP0: 2}),
               ({TP0: [Rec(0, 0), Rec(0, 1)]}, {TP0: 2})],
        positions={TP0: 0})
    ends = {TP0: 2}

    async def pending() -> bool:
        return await behind(consumer, ends)

    first = await fetch_some(consumer, pending, timeout_s=5.0)
    assert [r.offset for r in first or []] == [0, 1]
    consumer.seek(TP0, 0)  # the batch failed to apply: read it again
    again = await fetch_some(consumer, pending, timeout_s=5.0)
    assert [r.offset for r in again or []] == [0, 1]
    assert await fetch_some(consumer, pending, timeout_s=5.0) is None
    assert consumer.steps == []


async def test_behind_compares_each_position_with_its_end() -> None:
    consumer = Scripted(steps=[], positions={TP0: 4, TP1: 6})
    assert await behind(consumer, {TP0: 4, TP1: 7}) is True
    assert await behind(consumer, {TP0: 4, TP1: 6}) is False


async def test_poll_gives_each_partition_its_records_in_partition_order() -> None:
    consumer = Scripted(steps=[({TP1: [Rec(1, 9)], TP0: [Rec(0, 3)]}, {TP0: 4, TP1: 10})],
                        positions={TP0: 3, TP1: 9})
    polled = await poll(consumer, 1)  # type: ignore[arg-type]
    assert [(tp, [r.offset for r in rs]) for tp, rs in polled] == [(TP0, [3]), (TP1, [9])]
    assert await poll(consumer, 1) == []  # type: ignore[arg-type]


@dataclass
class Hit:
    offset: int


async def test_offsets_for_times_leaves_out_a_partition_with_nothing_that_late() -> None:
    asked: list[dict[TopicPartition, int]] = []

    class Timed:
        async def offsets_for_times(self, query: dict[TopicPartition, int]) -> dict[Any, Any]:
            asked.append(query)
            return {TP0: Hit(12), TP1: None}

    since = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    found = await offsets_for_times(Timed(), [TP0, TP1], since,  # type: ignore[arg-type]
                                    timeout_s=5)
    assert found == {TP0: 12}
    assert asked == [{TP0: 1767323045000, TP1: 1767323045000}]
    assert await offsets_for_times(Timed(), [], since, timeout_s=5) == {}  # type: ignore[arg-type]
    assert len(asked) == 1
