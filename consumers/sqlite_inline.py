"""SQLite calls made on the event loop's own thread while the database answers at once.

aiosqlite runs every call of a connection (each statement, each fetch, each commit) in a thread
of its own and hands the result back through the event loop: two thread switches, a future and
a fight for the GIL per call. The view consumer's batch makes ~35 such calls when it is one
record, each ~10-100 µs of SQLite work behind ~0.3-1 ms of hand-over (docs/performance.md).

``InlineConnection`` is aiosqlite's connection with its calls made at once, on the caller's
thread, with SQLite's busy timeout at zero. When the database is locked by another connection
(another process's writer: SQLite answers ``SQLITE_BUSY`` at once instead of waiting), the call
is made again in aiosqlite's thread with the usual timeout: waiting for a lock never blocks the
event loop. A statement that got ``SQLITE_BUSY`` changed nothing, so making it again is what
SQLite's own busy handler does.

What is given up: a long statement holds the loop while it runs (aiosqlite's thread released
the GIL and let other coroutines run meanwhile). Hence inline connections are for the view
consumer, whose statements are short and awaited one after the other anyway, not for servers
answering many readers at once.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection

BUSY_TIMEOUT_MS = 60_000
"""How long a call made in the thread waits for another connection's lock (as before)."""


def is_busy(error: sqlite3.OperationalError) -> bool:
    """``SQLITE_BUSY`` or one of its extended codes: the database was locked, nothing done."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


RETRIED = frozenset({"execute", "commit", "rollback"})
"""The calls made again in the thread after ``SQLITE_BUSY``: one statement each, which SQLite
undoes whole when it fails. Not ``executemany``/``executescript`` (the statements before the
one that failed stay done) nor a fetch (the rows before it are gone): their ``SQLITE_BUSY`` is
raised, as any other error. In WAL mode, with writers beginning ``IMMEDIATE``, neither meets
one: the lock is taken, or waited for, at ``BEGIN``."""


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, its calls made inline unless they would wait for a lock.

    A call is made inline only when every call of ours sent to aiosqlite's thread has
    finished (one whose waiter was cancelled still runs there to its end), so the calls are
    made in the order they were asked for, one at a time. ``offload`` (a count, for nesting)
    sends every call to the thread: for the rare long statements (``ANALYZE`` of a large
    timeline, tables created or dropped) that would otherwise hold the event loop, and Kafka's
    heartbeats with it."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._thread.daemon = True  # as SQLAlchemy makes aiosqlite's own: never holds up exit
        self._sent = 0
        """Calls of ours sent to the thread (counted by the loop's thread alone)."""
        self._finished = 0
        """Of those, the ones finished (counted by aiosqlite's thread alone)."""
        self.offload = 0
        self.inline_calls = 0
        """Calls made inline (for tests and debugging; the thread's are ``thread_calls``)."""

    @property
    def thread_calls(self) -> int:
        """Calls of ours sent to aiosqlite's thread (a lock waited for, or offloaded)."""
        return self._sent

    def _in_thread(self, call: Callable[[], Any]) -> Any:
        """``call`` in aiosqlite's thread, SQLite's busy handler waiting up to
        ``BUSY_TIMEOUT_MS`` for another connection's lock."""
        try:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                return call()
            finally:
                with contextlib.suppress(sqlite3.ProgrammingError):  # the call closed it
                    self._conn.execute("PRAGMA busy_timeout=0")
        finally:
            self._finished += 1

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if not self.offload and self._sent == self._finished:
            try:
                result = fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if not is_busy(error) or getattr(fn, "__name__", "") not in RETRIED:
                    raise
            else:
                self.inline_calls += 1
                return result
        self._sent += 1
        try:
            return await super()._execute(  # type: ignore[no-untyped-call]
                self._in_thread, partial(fn, *args, **kwargs))
        except BaseException:
            if not self._running:  # never queued (closed meanwhile): nothing will finish it
                self._finished = self._sent
            raise


def connect(path: str) -> InlineConnection:
    """An inline connection to the SQLite file ``path`` (its busy timeout is set to 0 by the
    engine's ``connect`` listener, ``consumers.store``)."""

    def connector() -> sqlite3.Connection:
        # made in aiosqlite's thread, used from the loop's as well: never by both at once
        return sqlite3.connect(path, timeout=0, check_same_thread=False)

    return InlineConnection(connector, 64)


@contextlib.asynccontextmanager
async def offloaded(conn: AsyncConnection) -> AsyncIterator[None]:
    """Within: ``conn``'s calls are made in aiosqlite's thread (if it is inline at all)."""
    raw = (await conn.get_raw_connection()).driver_connection
    if not isinstance(raw, InlineConnection):
        yield
        return
    raw.offload += 1
    try:
        yield
    finally:
        raw.offload -= 1
