"""The replay's merge of partitions by record timestamp (``consumers.audit.merge``)."""

from __future__ import annotations

from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.audit.merge import TimeMerge


class Rec(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int


def _log(spec: list[list[int]]) -> dict[tuple[str, int], list[Rec]]:
    return {("t", p): [Rec("t", p, o, ts) for o, ts in enumerate(stamps)]
            for p, stamps in enumerate(spec)}


def _run(log: dict[tuple[str, int], list[Rec]], chunk: int) -> tuple[list[Rec], int]:
    """Feed the merge like the reader does: only needy partitions, ``chunk`` records a fetch.
    Returns the output and the most records ever queued at once."""
    merge: TimeMerge[tuple[str, int], Rec] = TimeMerge(log)
    cursor = dict.fromkeys(log, 0)
    out: list[Rec] = []
    most = 0
    for p, records in log.items():
        if not records:
            merge.close(p)
    while not merge.finished():
        for p in merge.needy():
            start = cursor[p]
            merge.add(p, log[p][start:start + chunk])
            cursor[p] = min(start + chunk, len(log[p]))
            if cursor[p] == len(log[p]):
                merge.close(p)
        most = max(most, merge.queued())
        out += merge.ready()
    return out, most


stamps = st.lists(st.integers(0, 50), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(stamps.map(sorted), min_size=1, max_size=6), st.integers(1, 7))
def test_ordered_partitions_come_out_as_one_timestamp_order_with_nothing_lost(
        spec: list[list[int]], chunk: int) -> None:
    log = _log(spec)
    out, most = _run(log, chunk)
    assert sorted(out) == sorted(r for rs in log.values() for r in rs), "each record once"
    assert out == sorted(out, key=lambda r: (r.timestamp_ms, r.topic, r.partition, r.offset))
    assert most <= chunk * len(log), "never more than one fetch per partition queued"


@settings(max_examples=300, deadline=None)
@given(st.lists(stamps, min_size=1, max_size=6), st.integers(1, 7))
def test_each_partition_keeps_its_offset_order_even_when_its_clock_goes_back(
        spec: list[list[int]], chunk: int) -> None:
    log = _log(spec)
    out, _ = _run(log, chunk)
    assert len(out) == sum(map(len, log.values()))
    for p, records in log.items():
        assert [r for r in out if (r.topic, r.partition) == p] == records


def test_nothing_is_handed_over_while_an_open_partition_has_nothing_queued() -> None:
    merge: TimeMerge[int, Rec] = TimeMerge([0, 1])
    merge.add(0, [Rec("t", 0, 0, 10), Rec("t", 0, 1, 30)])
    assert merge.ready() == [], "partition 1's first record may be earlier than 10"
    assert merge.needy() == [1]
    merge.add(1, [Rec("t", 1, 0, 20)])
    assert merge.ready() == [Rec("t", 0, 0, 10), Rec("t", 1, 0, 20)], "then waits for 1 again"
    assert merge.needy() == [1]
    merge.close(1)
    assert merge.ready() == [Rec("t", 0, 1, 30)]
    assert not merge.finished(), "partition 0 is still open"
    merge.close(0)
    assert merge.finished()


def test_ties_go_by_topic_then_partition() -> None:
    merge: TimeMerge[tuple[str, int], Rec] = TimeMerge([("b", 0), ("a", 1), ("a", 0)])
    for topic, partition in (("b", 0), ("a", 1), ("a", 0)):
        merge.add((topic, partition), [Rec(topic, partition, 0, 5)])
        merge.close((topic, partition))
    assert [(r.topic, r.partition) for r in merge.ready()] == [("a", 0), ("a", 1), ("b", 0)]
