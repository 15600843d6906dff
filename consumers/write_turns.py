"""Turns at SQLite's write lock between the view consumer and its alert delivery process.

SQLite has one writer at a time. In one process the store's queue (``ViewStore._queue``) hands
the lock over in order. Across processes SQLite leaves it to its busy handler: a writer that
finds the file locked sleeps, up to 100 ms between tries, and is never woken when the lock is
free. A view consumer beyond its limit begins its next batch a moment after committing the last,
so the delivery process waiting in that handler rarely finds the lock free: its claims waited
6.5 s (p50) at 1,500 events/s (docs/performance.md, "Ninth pass").

``Turns`` are two flags in shared memory (``multiprocessing.RawArray``), set up by the consumer
for its delivery child (``consumers.alerts.worker_process``): the guest (the child) raises
``WANTED`` before it asks for the lock and lowers it when its transaction ended; the host (the
consumer) raises ``HOST_WRITING`` while it writes, and before each transaction lets a waiting
guest go first. The flags only order the two; SQLite's lock still decides who writes, so a
race between them (both see the other idle and begin at once) costs a wait in the busy handler,
as before, never a wrong write. Each side waits for the other at most ``WAIT_MAX_S``; a flag that
stayed up that long (its process stopped, hung, or itself waiting behind a third process) is
then passed over until it has been seen down once, so it costs the other side one wait, not a
wait per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
from collections.abc import AsyncIterator
from typing import Any, Protocol

import structlog

log = structlog.get_logger("consumers.write_turns")

WANTED, HOST_WRITING = 0, 1
POLL_S = 0.001
"""How often a waiting side looks at the other's flag (only while it waits)."""
WAIT_MAX_S = 1.0
"""The longest one side waits for the other before it goes to SQLite's lock regardless."""


class Turns(Protocol):
    def writing(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held around one write transaction, outside it (before ``BEGIN``, after its end)."""
        ...  # pragma: no cover - a protocol


def shared() -> Any:
    """The two flags, for the host and, passed to the child process, the guest."""
    return multiprocessing.get_context("spawn").RawArray("i", 2)


class _Waiter:
    """Waits for the other side's flag to fall, passing over one that stayed up too long."""

    def __init__(self, flags: Any, index: int) -> None:
        self.flags, self.index = flags, index
        self.stuck = False
        """The flag stayed up ``WAIT_MAX_S``: not waited for again until seen down."""

    async def until_clear(self) -> None:
        if not self.flags[self.index]:
            self.stuck = False
            return
        if self.stuck:
            return
        deadline = asyncio.get_running_loop().time() + WAIT_MAX_S
        while self.flags[self.index]:
            if asyncio.get_running_loop().time() >= deadline:
                self.stuck = True
                log.warning("write_turn_not_given", flag="wanted" if self.index == WANTED
                            else "host_writing", waited_s=WAIT_MAX_S)
                return
            await asyncio.sleep(POLL_S)
        self.stuck = False


class NoTurns:
    """A store alone at its database (or on PostgreSQL, whose row locks need no turns)."""

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        yield


class HostTurns:
    """The view consumer's side: a waiting guest goes first, then the host writes."""

    def __init__(self, flags: Any) -> None:
        self.flags = flags
        self._guest = _Waiter(flags, WANTED)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        await self._guest.until_clear()
        self.flags[HOST_WRITING] = 1
        try:
            yield
        finally:
            self.flags[HOST_WRITING] = 0


class GuestTurns:
    """The delivery process's side: says it waits, then asks for the lock once the host is out
    of its transaction."""

    def __init__(self, flags: Any) -> None:
        self.flags = flags
        self._host = _Waiter(flags, HOST_WRITING)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        self.flags[WANTED] = 1
        try:
            await self._host.until_clear()
            yield
        finally:
            self.flags[WANTED] = 0
