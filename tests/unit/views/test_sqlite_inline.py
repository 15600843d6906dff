"""SQLite calls on the loop's thread, and waits for another connection's lock off it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from consumers import sqlite_inline
from consumers.sqlite_inline import InlineConnection, is_busy
from consumers.store import ViewStore


@pytest.fixture
async def inline(tmp_path: Path) -> AsyncIterator[InlineConnection]:
    conn = await sqlite_inline.connect(str(tmp_path / "v.db"))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("CREATE TABLE t (x INTEGER)")
    try:
        yield conn
    finally:
        await conn.close()


def lock_for(path: Path, seconds: float) -> threading.Thread:
    """Another connection holds the write lock of ``path`` for ``seconds``, from a thread."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(seconds, lambda: (other.execute("COMMIT"), other.close()))
    releaser.start()
    return releaser


async def ticking(stop: asyncio.Event) -> int:
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.01)
        ticks += 1
    return ticks


async def test_calls_are_made_on_the_loops_thread(inline: InlineConnection) -> None:
    await inline.create_function("thread_id", 0, threading.get_ident)
    async with inline.execute("SELECT thread_id()") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] == threading.get_ident()  # aiosqlite's thread otherwise
    await inline.execute("INSERT INTO t VALUES (1), (2)")
    async with inline.execute("SELECT sum(x) FROM t") as cursor:
        assert await cursor.fetchone() == (3,)
    assert inline.thread_calls == 0
    assert inline.inline_calls >= 6


async def test_a_locked_database_is_waited_for_in_the_thread_not_on_the_loop(
        inline: InlineConnection, tmp_path: Path) -> None:
    releaser = lock_for(tmp_path / "v.db", 0.4)
    stop = asyncio.Event()
    ticker = asyncio.create_task(ticking(stop))
    await inline.execute("BEGIN IMMEDIATE")  # waits ~0.4 s for the other connection
    await inline.execute("INSERT INTO t VALUES (7)")
    await inline.execute("COMMIT")
    stop.set()
    ticks = await ticker
    releaser.join()
    # the loop went on meanwhile: a wait on the loop's thread would have held it ~0.4 s
    assert ticks >= 15
    assert inline.thread_calls == 1  # the BEGIN; the rest inline again
    async with inline.execute("SELECT x FROM t") as cursor:
        assert await cursor.fetchall() == [(7,)]


async def test_errors_other_than_busy_are_raised_at_once(inline: InlineConnection) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await inline.execute("SELECT * FROM missing")
    await inline.execute("CREATE TABLE u (k INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError):
        await inline.execute("INSERT INTO u VALUES (1), (1)")
    assert inline.thread_calls == 0


async def test_a_call_never_overtakes_one_still_waiting_in_the_thread(
        inline: InlineConnection, tmp_path: Path) -> None:
    releaser = lock_for(tmp_path / "v.db", 0.4)
    waiting = asyncio.create_task(inline.execute("BEGIN IMMEDIATE"))
    await asyncio.sleep(0.1)
    waiting.cancel()  # its waiter gives up; aiosqlite's thread still makes the call
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # made inline now, this would run beside the BEGIN still waiting on the same connection
    async with inline.execute("SELECT count(*) FROM t") as cursor:
        assert await cursor.fetchone() == (0,)
    releaser.join()
    assert inline.thread_calls >= 2
    await inline.execute("ROLLBACK")  # the cancelled BEGIN did begin


async def test_the_view_store_writes_inline_and_waits_for_another_process_lock(
        tmp_path: Path) -> None:
    path = tmp_path / "views.db"
    store = ViewStore(f"sqlite:///{path}", inline=True)
    try:
        await store.open()
        releaser = lock_for(path, 0.4)
        stop = asyncio.Event()
        ticker = asyncio.create_task(ticking(stop))
        async with store.writing() as (conn, _tables):
            await conn.execute(text("CREATE TABLE probe (x INTEGER)"))
            await conn.execute(text("INSERT INTO probe VALUES (5)"))
        stop.set()
        assert await ticker >= 15
        releaser.join()
        async with store.reading() as (conn, _tables):
            assert (await conn.execute(text("SELECT x FROM probe"))).scalar_one() == 5
    finally:
        await store.close()


async def test_a_cancelled_wait_then_close_raises_nothing_and_the_thread_never_holds_up_exit(
        inline: InlineConnection, tmp_path: Path) -> None:
    assert inline._thread.daemon
    releaser = lock_for(tmp_path / "v.db", 0.3)
    waiting = asyncio.create_task(inline.execute("BEGIN IMMEDIATE"))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await inline.close()  # queued behind the BEGIN, which then closes nothing twice
    releaser.join()


async def test_a_busy_executemany_is_raised_not_made_again(
        inline: InlineConnection, tmp_path: Path) -> None:
    """Its statements before the one that met the lock stay done: making it again would
    write them twice."""
    releaser = lock_for(tmp_path / "v.db", 0.3)
    with pytest.raises(sqlite3.OperationalError) as raised:
        await inline.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert is_busy(raised.value)
    assert inline.thread_calls == 0
    releaser.join()


async def test_offloaded_calls_run_in_aiosqlites_thread(tmp_path: Path) -> None:
    store = ViewStore(f"sqlite:///{tmp_path / 'views.db'}", inline=True)
    try:
        await store.open()
        async with store.writing() as (conn, _tables):
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, InlineConnection)
            await raw.create_function("thread_id", 0, threading.get_ident)
            here = (await conn.execute(text("SELECT thread_id()"))).scalar_one()
            async with sqlite_inline.offloaded(conn):
                there = (await conn.execute(text("SELECT thread_id()"))).scalar_one()
            again = (await conn.execute(text("SELECT thread_id()"))).scalar_one()
        assert here == again == threading.get_ident()
        assert there != here
    finally:
        await store.close()
