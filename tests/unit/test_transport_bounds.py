"""Review 19: every wait of ``transport.read`` is bounded, ``fetch_some`` (what ``emining views
rebuild`` reads with) included: with the broker gone (fetches bring nothing) and the ends not
reached, it raises ``TimeoutError`` after ``timeout_s`` without progress instead of spinning
forever. A position that moves without records (a gap) is progress, as in ``drain``."""

from __future__ import annotations

import asyncio

import pytest

from transport.kafka import TopicPartition
from transport.read import behind, fetch_some

TP = TopicPartition("pk.emining.shipments.v1", 0)


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
