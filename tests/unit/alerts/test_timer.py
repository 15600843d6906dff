"""The deadline timer on a real (SQLite) store: it fires only for views at the end of the log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from consumers.alerts.clock import ManualClock
from consumers.alerts.config import AlertConfig
from consumers.alerts.deadlines import schedule
from consumers.alerts.directory import Directory
from consumers.alerts.store import AlertStore, Placed, replace_all_deadlines
from consumers.alerts.timers import DeadlineTimer
from consumers.store import ViewStore
from consumers.store_batch import lock_offsets, view_row
from consumers.views.families import FAMILIES
from consumers.views.models import ShipmentStatus, ShipmentView
from schemas.events.shipments import ExitPoint
from schemas.topics import SHIPMENTS
from tests.unit.alerts.world import REGISTRY

NOW = datetime(2026, 5, 10, 4, tzinfo=UTC)
TP = (SHIPMENTS, 3)


async def _store(tmp_path: Path) -> ViewStore:
    """A store holding one planned shipment with no export approval, its early-warning deadline
    due, and the partition's views at offset 5."""
    store = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/views.db")
    await AlertStore(store).open()
    view = ShipmentView(shipment_id="SHP-2026-000124", exporter_uscc="91650100MA7XK3P2LA",
                        status=ShipmentStatus.PLANNED, exit_point=ExitPoint.PORT_QASIM,
                        hs_code="26030000", planned_departure_on=date(2026, 5, 20),
                        updated_at=NOW - timedelta(days=30))
    [deadline] = schedule(view, AlertConfig())
    assert deadline.fires_at < NOW
    async with store.writing() as (conn, tables):
        await conn.execute(tables.shipments.insert().values(
            view_row(FAMILIES[SHIPMENTS], view.shipment_id, view)))
        await replace_all_deadlines(conn, {view.shipment_id: [Placed(deadline, *TP)]})
        await lock_offsets(conn, tables, [TP])
        await conn.execute(update(tables.offsets).values(next_offset=5))
    return store


async def test_a_deadline_waits_until_its_partition_is_read_to_the_end(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    ends: dict[tuple[str, int], int | None] = {TP: None}
    timer = DeadlineTimer(store, Directory(REGISTRY, AlertConfig()), AlertConfig(),
                          ManualClock(NOW), lambda: {TP}, ends=lambda: ends)
    try:
        assert await timer.tick() == (0, [])  # the end is not known yet
        ends[TP] = 9  # four records on the log the views have not read (a grant, a plan...)
        assert await timer.tick() == (0, [])
        ends[TP] = 5  # caught up: the view is the log's
        fired, new = await timer.tick()
        assert (fired, len(new)) == (1, 1)
        assert await timer.tick() == (0, [])  # once
    finally:
        await store.close()


async def test_without_ends_the_timer_fires_on_what_it_owns(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    timer = DeadlineTimer(store, Directory(REGISTRY, AlertConfig()), AlertConfig(),
                          ManualClock(NOW), lambda: {TP})
    try:
        fired, new = await timer.tick()
        assert (fired, len(new)) == (1, 1)
    finally:
        await store.close()
