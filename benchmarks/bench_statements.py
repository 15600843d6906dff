"""What one small SQL statement costs through the views store, against SQLite itself (one core).

    .venv/bin/python -m benchmarks.bench_statements [--n 2000] [--json]

One write transaction of a ``ViewStore`` on a fresh SQLite file, the live generation read
``--n`` times (the statement every batch runs several times), four ways: a statement built for
each call (``select(...).where(...)``, as most of the store's code does), one statement built
once, the driver's own call (no SQLAlchemy), and the stdlib's ``sqlite3`` on the same file. Each
with aiosqlite's thread (``ViewStore(url)``, the servers) and inline (``ViewStore(url,
inline=True)``, the view consumer: ``consumers.sqlite_inline``). Microseconds per statement,
wall and CPU: no broker, no target of its own (docs/performance.md, "Eighth pass").
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from benchmarks.output import exit_on_sigterm, print_json, quiet_logging, stdout_to_stderr
from consumers.store import ViewStore
from consumers.store_schema import views_meta
from transport import eventloop

SQL = "SELECT value FROM views_meta WHERE key = ?"


async def _per_call(n: int, call: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(min(n, 100)):  # warm: SQLAlchemy's compiled cache, SQLite's pages
        await call()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        await call()
    return {"wall_us": round((time.perf_counter() - wall) / n * 1e6, 1),
            "cpu_us": round((time.process_time() - cpu) / n * 1e6, 1)}


async def _store(path: Path, n: int, *, inline: bool) -> dict[str, dict[str, float]]:
    store = ViewStore(f"sqlite:///{path}", inline=inline)
    try:
        await store.open()
        async with store.writing() as (conn, _tables):
            built = select(views_meta.c.value).where(views_meta.c.key == "live")
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None  # an open connection's aiosqlite connection

            async def each() -> None:
                query = select(views_meta.c.value).where(views_meta.c.key == "live")
                (await conn.execute(query)).scalar_one()

            async def once() -> None:
                (await conn.execute(built)).scalar_one()

            async def raw() -> None:
                async with driver.execute(SQL, ("live",)) as cursor:
                    await cursor.fetchone()

            return {"built_each_call": await _per_call(n, each),
                    "built_once": await _per_call(n, once),
                    "driver_alone": await _per_call(n, raw)}
    finally:
        await store.close()


def _stdlib(path: Path, n: int) -> dict[str, float]:
    conn = sqlite3.connect(path)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            conn.execute(SQL, ("live",)).fetchone()
        return {"wall_us": round((time.perf_counter() - wall) / n * 1e6, 1),
                "cpu_us": round((time.process_time() - cpu) / n * 1e6, 1)}
    finally:
        conn.close()


async def run(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        thread = await _store(Path(tmp) / "thread.sqlite", n, inline=False)
        inline = await _store(Path(tmp) / "inline.sqlite", n, inline=True)
        stdlib = _stdlib(Path(tmp) / "inline.sqlite", n)
    return {"statements": n, "aiosqlite_thread": thread, "inline": inline,
            "stdlib_sqlite3": stdlib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        result = eventloop.run(run(args.n))
    if args.json:
        print_json(result)
        return
    table = Table("path", "built each call", "built once", "driver alone",
                  title=f"one small statement, µs wall (CPU), {args.n:,} each")
    for name in ("aiosqlite_thread", "inline"):
        cells = [f"{result[name][k]['wall_us']} ({result[name][k]['cpu_us']})"
                 for k in ("built_each_call", "built_once", "driver_alone")]
        table.add_row(name, *cells)
    std = result["stdlib_sqlite3"]
    table.add_row("stdlib sqlite3", "", "", f"{std['wall_us']} ({std['cpu_us']})")
    Console().print(table)


if __name__ == "__main__":
    main()
