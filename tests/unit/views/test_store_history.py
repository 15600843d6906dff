"""What a batch reads back from the store it wrote: the events already seen (duplicates) and each
source's last sequence per partition (replays, reorders), through the statements built once
(``consumers.store_batch``), on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert

from consumers.fold import Changes, Position
from consumers.store import ViewStore
from consumers.store_batch import DocCache, _history, write
from consumers.store_schema import Tables

AT = datetime(2031, 5, 6, 7, 8, tzinfo=UTC)


def accepted(source: str, event_id: str) -> Any:
    """What ``_history`` reads of an accepted event: its envelope's source and id."""
    return SimpleNamespace(envelope=SimpleNamespace(source=source, id=event_id))


def changes(positions: dict[tuple[str, int, str], int]) -> Changes:
    return Changes(views=[], new_entries=[], updated_entries=[], positions=positions)


async def seen_row(conn: Any, tables: Tables, source: str, event_id: str, position: int) -> None:
    await conn.execute(insert(tables.timeline).values(
        subject="P-1", position=position, family="projects", event_id=event_id, source=source,
        type="t", time="2031", summary="", data="{}", log_partition=0, log_offset=position,
        sequence=position, record="{}"))


async def test_a_batch_finds_what_earlier_batches_wrote(tmp_path: Path) -> None:
    store = ViewStore(f"sqlite:///{tmp_path / 'views.db'}", inline=True)
    docs = DocCache()
    try:
        await store.open()
        async with store.writing() as (conn, tables):
            await seen_row(conn, tables, "urn:a", "e1", 1)
            await seen_row(conn, tables, "urn:b", "e2", 2)
            await write(conn, tables, changes({("proj", 0, "urn:a"): 5, ("proj", 1, "urn:b"): 3}),
                        {}, AT, docs)
        async with store.writing() as (conn, tables):
            await write(conn, tables, changes({("proj", 0, "urn:a"): 9}), {}, AT, docs)
        async with store.writing() as (conn, tables):
            batch = [(accepted("urn:a", "e1"), Position("proj", 0, 10)),   # seen before
                     (accepted("urn:a", "e3"), Position("proj", 0, 11)),   # new
                     (accepted("urn:b", "e1"), Position("proj", 1, 12)),   # e1, but urn:b's
                     (accepted("urn:c", "e2"), Position("proj", 2, 13))]   # e2, but urn:c's
            history = await _history(conn, tables, batch)
    finally:
        await store.close()
    assert history.seen == {("urn:a", "e1")}
    # the upsert moved urn:a's position on partition 0 to 9; nothing stored for urn:c
    assert history.last_sequence == {("proj", 0, "urn:a"): 9, ("proj", 1, "urn:b"): 3}
