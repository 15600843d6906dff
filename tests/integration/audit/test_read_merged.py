"""``LogReader.read_merged`` on a real broker: the partitions of several topics come out as one
stream in record-timestamp order, each record once, each partition in offset order, up to the
cut and never past the snapshot (what ``audit replay`` feeds the views)."""

from __future__ import annotations

import itertools
import random

import pytest
from aiokafka import AIOKafkaProducer

from consumers.audit.records import AuditTopics
from consumers.audit.snapshot import LogReader
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

BASE_MS = 1_760_000_000_000


async def _write(raw: AIOKafkaProducer, topics: AuditTopics, seed: int,
                 backwards: bool = False) -> list[tuple[str, int, int, int]]:
    """~60 records spread over every partition of the shared topics with interleaved times;
    ``backwards``: some partitions' clocks go back now and then. (topic, partition, offset, ts)."""
    rnd = random.Random(seed)
    clock = {(t, p): BASE_MS for t in topics.shared for p in range(3)}
    written = []
    for n in range(60):
        tp = rnd.choice(sorted(clock))
        step = rnd.randint(-400, 1000) if backwards else rnd.randint(1, 1000)
        clock[tp] = max(clock[tp] + step, BASE_MS)
        meta = await raw.send_and_wait(tp[0], f'{{"n": {n}}}'.encode() + b" " * 700,
                                       partition=tp[1], timestamp_ms=clock[tp])
        written.append((meta.topic, meta.partition, meta.offset, clock[tp]))
    return written


async def _merged(kafka: KafkaAccess, topics: AuditTopics, stop=None, after=None):
    async with LogReader(kafka, partition_fetch_bytes=1024) as reader:  # a record a fetch
        snapshot = await reader.snapshot(topics.all)
        if after is not None:
            await after()  # appended once the snapshot is taken: not this read's
        out = []
        async for batch in reader.read_merged(snapshot, topics.shared, stop=stop):
            out += [(r.topic, r.partition, r.offset, r.timestamp_ms) for r in batch]
        return out


async def test_the_partitions_come_out_in_timestamp_order_each_record_once(
        kafka_access, audit_topics, raw) -> None:
    written = await _write(raw, audit_topics, seed=7)

    async def more() -> None:
        await _write(raw, audit_topics, seed=8)

    out = await _merged(kafka_access, audit_topics, after=more)
    assert sorted(out) == sorted(written), "each record of the snapshot once, none after it"
    assert out == sorted(written, key=lambda r: (r[3], r[0], r[1], r[2]))


async def test_a_partition_whose_clock_goes_back_keeps_its_offset_order_and_the_cut_holds(
        kafka_access, audit_topics, raw) -> None:
    written = await _write(raw, audit_topics, seed=11, backwards=True)
    by_tp: dict[tuple[str, int], list[tuple[str, int, int, int]]] = {}
    for record in written:
        by_tp.setdefault(record[:2], []).append(record)
    assert any(a[3] > b[3] for rs in by_tp.values() for a, b in itertools.pairwise(rs)), \
        "the seed makes some partition's clock go back"
    stop = {tp: len(rs) // 2 for tp, rs in by_tp.items()}
    out = await _merged(kafka_access, audit_topics, stop=stop)
    wanted = [r for r in written if r[2] < stop[r[:2]]]
    assert sorted(out) == sorted(wanted)
    for tp in by_tp:
        assert [r for r in out if r[:2] == tp] == [r for r in wanted if r[:2] == tp]
