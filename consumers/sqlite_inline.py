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

import sqlite3
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 60_000
"""How long a call made in the thread waits for another connection's lock (as before)."""


def is_busy(error: sqlite3.OperationalError) -> bool:
    """``SQLITE_BUSY`` or one of its extended codes: the database was locked, nothing done."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, its calls made inline unless they would wait for a lock.

    A call is made inline only when aiosqlite's thread has nothing of this connection's to do:
    a call that went there (a wait for a lock, SQLAlchemy's ``isolation_level`` setter, a call
    whose waiter was cancelled while it ran) finishes first, and every call is made in the
    order it was asked for, on one thread at a time."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._in_thread = threading.Lock()
        """Held by aiosqlite's thread while it makes a call of ours that waits for a lock."""
        self.inline_calls = 0
        self.waited_calls = 0

    def _waiting(self, call: Callable[[], Any]) -> Any:
        """``call`` with SQLite's busy handler waiting up to ``BUSY_TIMEOUT_MS`` (in aiosqlite's
        thread)."""
        with self._in_thread:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                return call()
            finally:
                self._conn.execute("PRAGMA busy_timeout=0")

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if self._tx.empty() and self._in_thread.acquire(blocking=False):
            try:
                result = fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
            else:
                self.inline_calls += 1
                return result
            finally:
                self._in_thread.release()
        self.waited_calls += 1
        return await super()._execute(  # type: ignore[no-untyped-call]
            self._waiting, partial(fn, *args, **kwargs))


def connect(path: str) -> InlineConnection:
    """An inline connection to the SQLite file ``path`` (busy timeout 0: see the module)."""

    def connector() -> sqlite3.Connection:
        # made in aiosqlite's thread, used from the loop's as well: never by both at once
        conn = sqlite3.connect(path, timeout=0, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=0")
        return conn

    return InlineConnection(connector, 64)
