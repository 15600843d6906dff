"""On SQLite, a process's writers wait their turn in order, not in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from consumers.store import ViewStore


async def test_writers_of_one_process_take_the_sqlite_store_in_turn(tmp_path: Path) -> None:
    store = ViewStore(f"sqlite:///{tmp_path / 'views.db'}")
    await store.open()
    entered: list[tuple[str, float]] = []
    left: dict[str, float] = {}

    async def write(name: str, hold_s: float) -> None:
        async with store.writing():
            entered.append((name, time.monotonic()))
            await asyncio.sleep(hold_s)
        left[name] = time.monotonic()

    try:
        first = asyncio.create_task(write("batch", 0.3))
        await asyncio.sleep(0.05)
        others = [asyncio.create_task(write(n, 0.01)) for n in ("claim", "delivered", "next")]
        await asyncio.gather(first, *others)
    finally:
        await store.close()
    assert [n for n, _ in entered] == ["batch", "claim", "delivered", "next"]
    # the next writer goes in as the last one leaves: no sleeping in SQLite's busy handler
    # (up to 100 ms a try)
    at = dict(entered)
    assert at["claim"] - left["batch"] < 0.06
    assert at["delivered"] - left["claim"] < 0.06
