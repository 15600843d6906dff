"""``InStep.take``: batches take the partitions in step by record time, from batch to batch,
each partition's records a run of consecutive offsets from its position, never more than asked,
never waiting twice, and nothing lost to an error of a later call."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.fetch_order import CHUNK, DUE, InStep, chunk_of


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    timestamp: int


class Fetched:
    """aiokafka's fetched data as ``getmany`` hands it over: without partitions, the first
    partition (in buffer order, the order given here) is emptied before the next is touched.
    (aiokafka puts a partition it fetches again at the end of that order, so the partition
    first in it is often the one not drained lately: the one furthest ahead.)"""

    def __init__(self, partitions: dict[int, list[int]]) -> None:
        self.buffers = {p: deque(Rec(p, i, ts) for i, ts in enumerate(stamps))
                        for p, stamps in partitions.items()}
        self.waits: list[int] = []
        self.errors: dict[int, Exception] = {}
        """A partition's fetch error, raised by a call that has taken nothing yet (aiokafka)."""

    async def getmany(self, *partitions: int, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[int, list[Rec]]:
        self.waits.append(timeout_ms)
        left = max_records if max_records is not None else 10**9
        out: dict[int, list[Rec]] = {}
        for p, buffer in self.buffers.items():
            if partitions and p not in partitions:
                continue
            if p in self.errors:
                if out:
                    return out  # raised on the next call
                raise self.errors.pop(p)
            while buffer and left:
                out.setdefault(p, []).append(buffer.popleft())
                left -= 1
        return out


async def test_a_batch_spans_every_partition_in_time_order() -> None:
    # three partitions, one record each per millisecond: the plain poll takes 300 of partition 0
    fetched = Fetched({p: list(range(1000)) for p in range(3)})
    plain = await Fetched({p: list(range(1000)) for p in range(3)}).getmany(max_records=300)
    assert list(plain) == [0]
    got = await InStep().take(fetched.getmany, [0, 1, 2], timeout_ms=200, max_records=300)
    assert sum(map(len, got.values())) == 300
    assert sorted(got) == [0, 1, 2]
    for records in got.values():  # in step: no partition more than a chunk ahead of another
        assert abs(len(records) - 100) <= CHUNK
    assert fetched.waits[0] == 200
    assert set(fetched.waits[1:]) == {0}  # waits for the first record only


async def test_the_partition_behind_in_time_is_taken_first() -> None:
    fetched = Fetched({0: list(range(1000, 2000)), 1: list(range(1000))})
    got = await InStep().take(fetched.getmany, [0, 1], timeout_ms=0, max_records=400)
    # partition 0's records are all newer than partition 1's first 400: after the first
    # record (the plain poll's), only partition 1 is taken
    assert len(got[0]) == 1
    assert len(got[1]) == 399
    assert [r.timestamp for r in got[1]] == list(range(399))


async def test_nothing_fetched_means_an_empty_batch() -> None:
    fetched = Fetched({0: [], 1: []})
    assert await InStep().take(fetched.getmany, [0, 1], timeout_ms=50, max_records=500) == {}
    assert fetched.waits == [50]


@settings(max_examples=200, deadline=None)
@given(partitions=st.dictionaries(st.integers(0, 5),
                                  st.lists(st.integers(0, 10_000), max_size=300).map(sorted),
                                  max_size=6),
       max_records=st.one_of(st.none(), st.integers(1, 700)),
       unassigned_extra=st.booleans())
async def test_runs_of_consecutive_offsets_and_never_more_than_asked(
    partitions: dict[int, list[int]], max_records: int | None, unassigned_extra: bool,
) -> None:
    fetched = Fetched(partitions)
    assigned: list[Any] = [*partitions, *([99] if unassigned_extra else [])]
    got = await InStep().take(fetched.getmany, assigned, timeout_ms=10, max_records=max_records)
    total = sum(len(s) for s in partitions.values())
    taken = sum(map(len, got.values()))
    assert taken == (total if max_records is None else min(total, max_records))
    for p, records in got.items():
        assert records  # no empty entries
        assert [r.offset for r in records] == list(range(len(records)))  # from its position
        assert all(r.partition == p for r in records)
        assert len(fetched.buffers[p]) == len(partitions[p]) - len(records)  # the rest stays


async def test_an_error_of_a_later_call_is_raised_after_the_records_taken() -> None:
    fetched = Fetched({0: list(range(100)), 1: list(range(100)), 2: list(range(100))})
    fetched.errors[1] = RuntimeError("partition 1: corrupt record")
    step = InStep()
    got = await step.take(fetched.getmany, [0, 1, 2], timeout_ms=0, max_records=150)
    assert got
    assert 1 not in got
    with pytest.raises(RuntimeError, match="corrupt record"):
        await step.take(fetched.getmany, [0, 1, 2], timeout_ms=0, max_records=150)
    rest = await step.take(fetched.getmany, [0, 1, 2], timeout_ms=0, max_records=None)
    for p in (0, 2):  # nothing lost: the two batches are the partition's whole run
        assert [r.offset for r in got.get(p, []) + rest[p]] == list(range(100))
    assert [r.offset for r in rest[1]] == list(range(100))


async def test_a_partition_ahead_in_time_waits_for_the_others_from_batch_to_batch() -> None:
    # partition 1 starts where partition 0 is 500 ms on: once taken from, it is not taken
    # again until partition 0 has caught up, however many batches that takes
    fetched = Fetched({0: list(range(1000)), 1: list(range(500, 1500))})
    step = InStep()
    batches = [await step.take(fetched.getmany, [0, 1], timeout_ms=0, max_records=100)
               for _ in range(6)]
    first_of_1 = len(batches[0].get(1, []))
    assert first_of_1 == chunk_of(100, 2)  # never taken yet: one chunk, to learn its time
    for batch in batches[1:5]:  # partition 0 still before 500: partition 1 left alone
        assert 1 not in batch
        assert max(r.timestamp for r in batch[0]) < 500
    offsets = [r.offset for b in batches for r in b.get(0, [])]
    assert offsets == list(range(len(offsets)))  # one run, nothing lost
    assert sum(len(r) for b in batches for r in b.values()) == 600
    assert 1 in batches[5]  # partition 0 has passed 500: both again


async def test_a_partition_sought_is_placed_again_by_its_records() -> None:
    fetched = Fetched({0: list(range(1000)), 1: list(range(500, 1500))})
    seeks = {0: 0, 1: 0}
    step = InStep()
    await step.take(fetched.getmany, [0, 1], timeout_ms=0, max_records=100,
                    sought=seeks.__getitem__)
    # partition 1 moved back (to records of time 0): its old place in time no longer counts
    fetched.buffers[1] = deque(Rec(1, i, i) for i in range(1000))
    seeks[1] += 1
    got = await step.take(fetched.getmany, [0, 1], timeout_ms=0, max_records=100,
                          sought=seeks.__getitem__)
    assert got.get(1)
    assert [r.offset for r in got[1]][:3] == [0, 1, 2]


async def test_the_partition_first_in_aiokafkas_buffer_gives_one_record_at_most() -> None:
    # the partition ahead in time is first in the buffer (aiokafka moves a partition fetched
    # again to the end): the waiting first call takes one record of it, the rest is in step
    fetched = Fetched({1: list(range(500, 1500)), 0: list(range(1000))})
    step = InStep()
    batches = [await step.take(fetched.getmany, [0, 1], timeout_ms=0, max_records=100)
               for _ in range(5)]
    for batch in batches[1:]:  # partition 0 still before 500
        assert len(batch.get(1, [])) <= 1
        assert max(r.timestamp for r in batch[0]) < 500
    assert sum(len(r) for b in batches for r in b.values()) == 500


async def test_a_record_stamped_far_ahead_delays_its_partition_a_few_batches_at_most() -> None:
    # any producer sets CreateTime: partition 1's 25th record (the last of its first chunk)
    # claims the year 2100; the records after it are as old as partition 0's. Its place in
    # time says "wait for the others"; it is taken again once left out of DUE batches in a
    # row, not only when partition 0 runs out (50 batches here)
    far = 4_102_444_800_000
    assert chunk_of(100, 2) == 25
    fetched = Fetched({0: list(range(5000)), 1: [*range(24), far, *range(25, 5000)]})
    step = InStep()
    batches = [await step.take(fetched.getmany, [0, 1], timeout_ms=0, max_records=100)
               for _ in range(30)]  # partition 0 lasts 50
    assert max(r.timestamp for r in batches[0][1]) == far
    with_1 = [i for i, b in enumerate(batches) if b.get(1)]
    assert len(with_1) >= 3, f"partition 1 starved: taken in batches {with_1} only"
    assert max(b - a for a, b in itertools.pairwise(with_1)) <= DUE + 1
    offsets = [r.offset for b in batches for r in b.get(1, [])]
    assert offsets == list(range(len(offsets)))  # one run, nothing lost
