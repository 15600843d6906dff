"""The gateway's catch-up check: fresh end offsets shared by concurrent requests, applied offsets
read once for many, and the answer the same as reading both for each request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from consumers.freshness import Freshness
from infra.compose import app as app_module
from infra.compose.app import AppliedOffsets, _caught_up
from transport.meta import key_partition

TOPIC = "emining.projects.v1"


class CountingFreshness(Freshness):
    """``Freshness(ttl_s=0)`` whose broker is a counter: read n answers ``{(t, 0): n}``."""

    def __init__(self, fail_reads: frozenset[int] = frozenset()) -> None:
        super().__init__(None, ("t",), ttl_s=0.0)
        self.reads = 0
        self.fail_reads = fail_reads

    async def _fetch(self, topics: frozenset[str]) -> dict[tuple[str, int], int]:
        self.reads += 1
        number = self.reads
        await asyncio.sleep(0.02)
        if number in self.fail_reads:
            raise OSError("broker away")
        return {(t, 0): number for t in sorted(topics)}


async def _ask(freshness: Freshness) -> int:
    ends = await freshness.end_offsets()
    assert ends is not None
    return ends[("t", 0)]


async def test_concurrent_callers_share_reads_begun_after_they_asked() -> None:
    freshness = CountingFreshness()
    first = asyncio.create_task(_ask(freshness))
    await asyncio.sleep(0.005)  # read 1 is in flight: it began before the others asked
    others = await asyncio.gather(*(_ask(freshness) for _ in range(20)))
    assert await first == 1
    assert others == [2] * 20  # not read 1's answer, and one read for all twenty
    assert freshness.reads == 2
    assert await _ask(freshness) == 3  # read 2 began before this call: a new read


async def test_a_failed_read_answers_none_and_is_never_shared() -> None:
    freshness = CountingFreshness(fail_reads=frozenset({1}))
    assert await freshness.end_offsets() is None
    assert await _ask(freshness) == 2


async def test_cached_freshness_still_reuses_within_its_ttl() -> None:
    freshness = CountingFreshness()
    freshness._ttl_s = 60.0
    assert [await _ask(freshness) for _ in range(3)] == [1, 1, 1]


class _Views:
    """Stands in for the views store: ``offsets`` below is what reads it."""


async def test_applied_offsets_are_read_after_each_request_asked_and_shared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []

    async def offsets(_: Any) -> dict[tuple[str, int], int]:
        reads.append(len(reads) + 1)
        number = len(reads)
        await asyncio.sleep(0.01)
        return {(TOPIC, 0): number}

    async def offsets_and_held(views: Any) -> tuple[dict[tuple[str, int], int], frozenset[Any]]:
        return await offsets(views), frozenset()

    monkeypatch.setattr(app_module, "offsets_and_held", offsets_and_held)
    applied = AppliedOffsets(_Views())  # type: ignore[arg-type]
    first = asyncio.create_task(applied.get())
    await asyncio.sleep(0.002)  # read 1 in flight: begun before the others asked
    got = await asyncio.gather(*(applied.get() for _ in range(10)))
    assert (await first)[0] == {(TOPIC, 0): 1}
    assert [g[0] for g in got] == [{(TOPIC, 0): 2}] * 10  # one read for the ten, begun after
    assert (await applied.get())[0] == {(TOPIC, 0): 3}  # never older than the request
    assert len(reads) == 3


class _Ends(Freshness):
    def __init__(self, ends: dict[tuple[str, int], int] | None) -> None:
        super().__init__(None, (TOPIC,), ttl_s=0.0)
        self.ends = ends

    async def end_offsets(self, extra: Any = ()) -> dict[tuple[str, int], int] | None:
        return self.ends


class _Applied(AppliedOffsets):
    def __init__(self, stored: dict[tuple[str, int], int],
                 held: frozenset[tuple[str, int]] = frozenset()) -> None:
        self.stored, self.held = stored, held

    async def get(self) -> tuple[dict[tuple[str, int], int], frozenset[tuple[str, int]]]:
        return self.stored, self.held


@pytest.mark.parametrize(("stored_next", "end", "caught_up"), [
    (7, 7, True),   # everything up to the end applied
    (6, 7, False),  # one record on the subject's partition not applied yet
    (0, 0, True),   # an empty partition
])
async def test_caught_up_on_the_subjects_partition(stored_next: int, end: int,
                                                   caught_up: bool) -> None:
    subject = "PRJ-0001"
    mine = key_partition(subject.encode(), 3)
    other = (mine + 1) % 3
    ends = {(TOPIC, p): 100 for p in range(3)} | {(TOPIC, mine): end}
    stored = {(TOPIC, p): 100 for p in range(3)} | {(TOPIC, mine): stored_next,
                                                   (TOPIC, other): 0}
    # another partition's lag does not matter; the subject's partition alone decides
    assert await _caught_up(_Applied(stored), _Ends(ends), subject, TOPIC) is caught_up


async def test_not_caught_up_when_the_broker_cannot_say() -> None:
    stored = {(TOPIC, p): 5 for p in range(3)}
    assert await _caught_up(_Applied(stored), _Ends(None), "PRJ-0001", TOPIC) is False
    assert await _caught_up(_Applied({}), _Ends({}), "PRJ-0001", TOPIC) is False


async def test_not_caught_up_while_the_subjects_partition_holds_records() -> None:
    subject = "PRJ-0001"
    mine = key_partition(subject.encode(), 3)
    offsets = {(TOPIC, p): 100 for p in range(3)}
    other = frozenset({(TOPIC, (mine + 1) % 3)})
    assert await _caught_up(_Applied(offsets, other), _Ends(offsets), subject, TOPIC) is True
    held_here = frozenset({(TOPIC, mine)})
    assert await _caught_up(_Applied(offsets, held_here), _Ends(offsets), subject, TOPIC) is False
