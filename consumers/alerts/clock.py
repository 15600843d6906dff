"""Time for alert rules and timers: the wall clock in production, a hand-moved clock in tests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What rules and timers know of time: now, and a way to wait for it to pass."""

    def now(self) -> datetime:
        """The current instant, UTC-aware."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""
        ...


class SystemClock:
    """The wall clock, optionally shifted (drills and subprocess tests set ``offset``)."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; sleepers wake when it passes their deadline.

    ``sleep`` also returns after ``real_timeout_s`` of real time, so a loop driven by this clock
    still polls (for work that other processes queued) while the test holds time still.
    """

    def __init__(self, start: datetime, *, real_timeout_s: float = 0.05) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        self._now = start.astimezone(UTC)
        self._moved = asyncio.Event()
        self._real_timeout_s = real_timeout_s

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock's time is timezone-aware")
        self._now = moment.astimezone(UTC)
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def advance(self, delta: timedelta) -> None:
        self.set(self._now + delta)

    async def sleep(self, seconds: float) -> None:
        target = self._now + timedelta(seconds=seconds)
        deadline = asyncio.get_running_loop().time() + self._real_timeout_s
        while self._now < target:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(self._moved.wait(), remaining)
            except TimeoutError:
                return
