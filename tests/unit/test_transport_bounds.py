"""Review 19: every wait of ``transport.read`` is bounded, ``fetch_some`` (what ``emining views
rebuild`` reads with) included: with the broker gone (fetches bring nothing) and the ends not
reached, it raises ``TimeoutError`` after ``timeout_s`` without progress instead of spinning
forever. A position that moves without records (a gap) is progress, as in ``drain``. And the
assign/seek helpers the readers use instead of writing the sequence by hand."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from transport.kafka import TopicPartition
from transport.read import (
    assign_from,
    assign_from_beginning,
    behind,
    fetch_some,
    seek_to,
)

TP = TopicPartition("pk.emining.shipments.v1", 0)
TP1 = TopicPartition("pk.emining.shipments.v1", 1)


class _DeadBroker:
    """A consumer whose broker went away after the ends were taken: fetches bring nothing."""

    def __init__(self) -> None:
        self.fetches = 0

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    async def getmany(self, *_: object, **__: object) -> dict[object, list[object]]:
        self.fetches += 1
        await asyncio.sleep(0.01)
        return {}

    async def position(self, _tp: object) -> int:
        return 10


async def test_fetch_some_gives_up_when_nothing_comes() -> None:
    consumer = _DeadBroker()

    async def pending() -> bool:
        return await behind(consumer, {TP: 100})  # type: ignore[arg-type]

    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError) as raised:  # wait_for's own timeout has no message
        await asyncio.wait_for(
            fetch_some(consumer, pending, timeout_s=0.3, fetch_ms=10),  # type: ignore[arg-type]
            3.0)
    assert str(raised.value) == ("no records from ['pk.emining.shipments.v1[0]'] and no"
                                 " position moved for 0.3s"), \
        "fetch_some waited 3 s with no bound of its own: a rebuild with the broker gone never ends"
    assert 0.3 <= loop.time() - began < 2.0
    assert consumer.fetches > 3  # it did keep fetching until the bound


class _Gap(_DeadBroker):
    """No records ever, but each fetch moves the position (aborted transactions, compaction)
    until the end is reached."""

    def __init__(self, end: int) -> None:
        super().__init__()
        self.at, self.end = 0, end

    async def getmany(self, *_: object, **__: object) -> dict[object, list[object]]:
        self.fetches += 1
        await asyncio.sleep(0.01)
        self.at = min(self.at + 1, self.end)
        return {}

    async def position(self, _tp: object) -> int:
        return self.at


async def test_a_position_moving_without_records_is_progress() -> None:
    consumer = _Gap(end=40)  # 40 empty fetches of >= 10 ms: well past the 0.1 s bound

    async def pending() -> bool:
        return await behind(consumer, {TP: 40})  # type: ignore[arg-type]

    assert await fetch_some(consumer, pending, timeout_s=0.1,  # type: ignore[arg-type]
                            fetch_ms=10) is None
    assert consumer.fetches == 40


@dataclass
class _Assigning:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def assign(self, tps: list[TopicPartition]) -> None:
        self.calls.append(("assign", list(tps)))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.calls.append(("seek", tp, offset))

    def pause(self, *tps: TopicPartition) -> None:
        self.calls.append(("pause", *tps))

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.calls.append(("seek_to_beginning", *tps))


async def test_the_assign_helpers_do_what_the_readers_wrote_by_hand() -> None:
    consumer = _Assigning()
    assign_from(consumer, {TP: 5, TP1: 7})  # type: ignore[arg-type]
    seek_to(consumer, {TP1: 9})  # type: ignore[arg-type]
    assert consumer.calls == [("assign", [TP, TP1]), ("seek", TP, 5), ("seek", TP1, 7),
                              ("seek", TP1, 9)]
    consumer.calls.clear()
    await assign_from_beginning(consumer, [TP, TP1], paused=True)  # type: ignore[arg-type]
    assert consumer.calls == [("assign", [TP, TP1]), ("pause", TP, TP1),
                              ("seek_to_beginning", TP, TP1)]
    consumer.calls.clear()
    await assign_from_beginning(consumer, [TP])  # type: ignore[arg-type]
    assert consumer.calls == [("assign", [TP]), ("seek_to_beginning", TP)]
