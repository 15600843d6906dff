"""The views' store: a SQLite file by default, PostgreSQL by URL, one code path (SQLAlchemy Core).

SQLite runs in WAL mode and every write transaction starts with ``BEGIN IMMEDIATE``, so several
consumer processes (and a rebuild) can share one file: writers queue on the lock instead of
failing when a read upgrades to a write. Readers use a second engine with plain ``BEGIN`` and
read a consistent snapshot while writers work.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from consumers import sqlite_inline
from consumers.store_schema import GENERATIONS, SCHEMA_VERSION, TABLES, Tables, meta_metadata
from consumers.store_schema import views_meta as meta
from consumers.views.registry import OWN_TABLES, VIEWS
from consumers.write_turns import NoTurns, Turns
from schemas.errors import EminingError

log = structlog.get_logger("consumers.store")

_OPEN_ATTEMPTS = 3
_FIRST_ANALYZE_ROWS = 2000


class StoreError(EminingError):
    """The views store cannot be used as configured."""


class SchemaMismatchError(StoreError):
    """The store was built by another version of the views: rebuild it."""


HELD_VIEWS = ",".join(sorted(v.name for v in VIEWS if v.name not in OWN_TABLES))
"""The views kept in ``documents`` (``views_meta`` key ``views``): a store built without one
of them (a view added since) has none of its past documents until a rebuild folds them."""


def normalize_url(url: str) -> str:
    """``sqlite:///x`` and ``postgresql://...`` become their asyncio-driver forms."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
              "postgres": "postgresql+asyncpg"}.get(parsed.drivername, parsed.drivername)
    if driver not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
        raise StoreError(f"unsupported views store {parsed.drivername!r}: use sqlite:///path or "
                         "postgresql://user@host/db")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


READER_POOL = 16
"""SQLite read connections kept open (each is a thread of aiosqlite's). SQLAlchemy's default
of 5 was below the gateway's concurrent requests: connections past it were opened and closed
again for each read, each a new thread and three PRAGMAs (docs/performance.md)."""


def _sqlite_engine(url: str, *, begin: str, pool_size: int = 5,
                   inline: bool = False) -> AsyncEngine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if inline:
        engine = create_async_engine(url, async_creator=partial(sqlite_inline.connect,
                                                             path or ":memory:"),
                                     pool_size=pool_size, max_overflow=2 * pool_size)
    else:
        engine = create_async_engine(url, connect_args={"timeout": 60}, pool_size=pool_size,
                                     max_overflow=2 * pool_size)
    busy = 0 if inline else 60_000

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        for pragma in (f"busy_timeout={busy}", "journal_mode=WAL", "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


_LIVE = select(meta.c.value).where(meta.c.key == "live")
_LIVE_LOCKED = _LIVE.with_for_update(read=True)
"""Built once: a statement built for each call costs more than SQLite takes to run it (~140 µs
against ~7 µs; SQLAlchemy's cache key is kept on the statement it was built for)."""


class ViewStore:
    """Engines, the live generation, and transactions to read or write the views.

    ``inline``: on SQLite, make the calls on the event loop's thread while the database
    answers at once (``consumers.sqlite_inline``): for the processes that write a batch after
    another (the view consumer, the alert delivery, a rebuild or replay), not for servers
    answering many readers at once."""

    def __init__(self, url: str, *, inline: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self._writer = _sqlite_engine(self.url, begin="BEGIN IMMEDIATE", inline=inline)
            self._reader = _sqlite_engine(self.url, begin="BEGIN", pool_size=READER_POOL,
                                          inline=inline)
        else:
            self._writer = self._reader = create_async_engine(self.url, pool_size=4)
        self._inserted = 0
        self._analyze_at = _FIRST_ANALYZE_ROWS
        self._queue: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Lock() if self.dialect == "sqlite" else contextlib.nullcontext())
        """On SQLite, this process's writers (the view batches, the alert delivery, the
        channels) wait their turn here, in order. Left to SQLite, a writer that finds the file
        locked polls in its busy handler, sleeping up to 100 ms between tries and never woken
        when the lock is free, while the view consumer takes it again batch after batch: the
        alert delivery waited up to ~0.9 s (p99) for its claim at 20 events/s
        (docs/performance.md). Other processes still meet SQLite's own lock."""
        self.turns: Turns = NoTurns()
        """Turns at SQLite's lock with another process (``consumers.write_turns``): set by the
        view consumer and its alert delivery process for each other."""

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        async with self._queue, self.turns.writing(), self._writer.begin() as conn:
            yield conn

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    async def open(self, *, check_version: bool = True, check_views: bool = False) -> str:
        """Create what is missing; returns the live generation. Safe to race other processes:
        a database error (two processes creating the same tables at once) is tried again at
        once, up to ``_OPEN_ATTEMPTS`` tries in all, then raised as it is.

        ``check_version`` refuses a store of another schema version. ``check_views`` (with it)
        also refuses a store that does not hold every view of this version (one was added
        since it was built): only the view consumer needs that, the readers of the store's
        other tables (alerts, accounts) do not, and must not be held up by it."""
        retrying = AsyncRetrying(stop=stop_after_attempt(_OPEN_ATTEMPTS),
                                 retry=retry_if_exception_type(DBAPIError), reraise=True)
        live: str = await retrying(self._open, check_version, check_views)
        return live

    async def _open(self, check_version: bool, check_views: bool = False) -> str:
        async with self._begin() as conn, sqlite_inline.offloaded(conn):
            await conn.run_sync(meta_metadata.create_all)
            rows = {r.key: r.value for r in await conn.execute(select(meta.c.key, meta.c.value))}
            if "live" not in rows:
                rows = {"live": GENERATIONS[0], "schema_version": str(SCHEMA_VERSION),
                        "views": HELD_VIEWS}
                await conn.execute(meta.insert(), [{"key": k, "value": v} for k, v in rows.items()])
            if check_version and rows["schema_version"] != str(SCHEMA_VERSION):
                raise SchemaMismatchError(
                    f"views store {self.display_url} has schema {rows['schema_version']}, this "
                    f"version writes {SCHEMA_VERSION}: run `emining views rebuild`")
            if check_version and rows.get("views", "") != HELD_VIEWS:
                if check_views:
                    raise SchemaMismatchError(
                        f"views store {self.display_url} holds the views "
                        f"[{rows.get('views', '')}], this version has [{HELD_VIEWS}]: "
                        "run `emining views rebuild` to fold the log into them")
                # a reader (serve, the alerts) opens all the same, but says what it will lack
                log.warning("views_store_missing_views", store=self.display_url,
                            held=rows.get("views", ""), expected=HELD_VIEWS,
                            fix="emining views rebuild")
            await conn.run_sync(TABLES[rows["live"]].metadata.create_all)
            return str(rows["live"])

    async def close(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    @staticmethod
    async def _live(conn: AsyncConnection, *, lock: bool) -> Tables:
        # a swap updates this row: a writer waits for writers of the old generation
        generation = (await conn.execute(_LIVE_LOCKED if lock else _LIVE)).scalar_one()
        return TABLES[generation]

    @asynccontextmanager
    async def writing(
        self, generation: str | None = None
    ) -> AsyncIterator[tuple[AsyncConnection, Tables]]:
        """One write transaction on the live generation (or on ``generation``, for a rebuild)."""
        async with self._begin() as conn:
            tables = TABLES[generation] if generation else await self._live(conn, lock=True)
            yield conn, tables

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[tuple[AsyncConnection, Tables]]:
        """One read transaction on the live generation: a consistent snapshot on SQLite."""
        async with self._reader.connect() as conn, conn.begin():
            yield conn, await self._live(conn, lock=False)

    async def grew(self, tables: Tables, rows: int) -> None:
        """Note ``rows`` new timeline rows; refresh the planner's statistics when the timeline
        has doubled since they were last taken. A table filled from empty (a rebuild, a new
        deployment) otherwise has none, and PostgreSQL then scans it whole for each batch's
        duplicate check instead of using its index."""
        self._inserted += rows
        if self._inserted < self._analyze_at:
            return
        self._analyze_at = 2 * self._inserted
        async with self._begin() as conn, sqlite_inline.offloaded(conn):  # long on a large one
            await conn.execute(text(f"ANALYZE {tables.timeline.name}"))

    async def live_generation(self) -> str:
        async with self.reading() as (_, tables):
            return tables.generation

    async def reset_generation(self, generation: str) -> None:
        """Drop and recreate ``generation``'s tables (the one a rebuild fills)."""
        async with self._begin() as conn, sqlite_inline.offloaded(conn):
            live = (await self._live(conn, lock=True)).generation
            if live == generation:
                raise StoreError(f"generation {generation} is live; rebuild into the other one")
            await conn.run_sync(TABLES[generation].metadata.drop_all)
            await conn.run_sync(TABLES[generation].metadata.create_all)

    async def swap(self, generation: str) -> None:
        """Make ``generation`` live and drop the old one, in one transaction."""
        async with self._begin() as conn, sqlite_inline.offloaded(conn):
            old = (await self._live(conn, lock=True)).generation
            await conn.execute(update(meta).where(meta.c.key == "live").values(value=generation))
            await conn.execute(update(meta).where(meta.c.key == "schema_version")
                               .values(value=str(SCHEMA_VERSION)))
            await conn.execute(meta.delete().where(meta.c.key == "views"))
            await conn.execute(meta.insert().values(key="views", value=HELD_VIEWS))
            if old != generation:
                await conn.run_sync(TABLES[old].metadata.drop_all)
