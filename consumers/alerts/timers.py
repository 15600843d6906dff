"""Deadlines fired on the clock, with or without new events, by the subject partition's owner.

Each tick, in one transaction: lock the consumed offsets of the partitions this consumer owns
(so a batch of the same partition cannot interleave), take their unfired deadlines due by the
clock's now, re-judge each against the subject's current view, record the alerts and mark the
deadlines fired. A crash before the commit leaves them unfired (they fire at the next tick, here
or at the partition's next owner); after it, they are fired and never fire again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts.clock import Clock
from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context, ViewSnapshot
from consumers.alerts.deadlines import SHIPMENT_RULES, fire
from consumers.alerts.directory import Directory
from consumers.alerts.render import alert_of
from consumers.alerts.stage import export_approvals_of, load_views
from consumers.alerts.store import due_deadlines, mark_fired, next_due, record_alerts
from consumers.store import ViewStore
from consumers.store_batch import lock_offsets, stored_offsets
from consumers.store_schema import Tables
from consumers.views.models import ApprovalView, ProjectView, ShipmentView
from transport.kafka import TopicPartition

log = structlog.get_logger("consumers.alerts.timers")

Owned = Callable[[], Iterable[tuple[str, int]]]
"""The (topic, partition) pairs this consumer owns right now."""
Ends = Callable[[], Mapping[tuple[str, int], int | None]]
"""The end offset (high watermark) the consumer last saw of each partition it owns."""


class DeadlineTimer:
    def __init__(self, store: ViewStore, directory: Directory, config: AlertConfig, clock: Clock,
                 owned: Owned, on_new: Callable[[], None] | None = None, batch: int = 200,
                 ends: Ends | None = None) -> None:
        self.store, self.directory, self.config, self.clock = store, directory, config, clock
        self._owned, self._on_new, self._batch, self._ends = owned, on_new, batch, ends

    async def _settled(self, conn: AsyncConnection, tables: Tables) -> list[tuple[str, int]]:
        """The owned partitions whose views are at the end of the log. A deadline is judged on
        its subject's view; while the consumer catches up (a restart after downtime, history
        being loaded) that view may lack a grant already on the log, so it waits."""
        owned = sorted(set(self._owned()))
        if self._ends is None or not owned:
            return owned
        ends, stored = self._ends(), await stored_offsets(conn, tables)
        return [tp for tp in owned
                if (end := ends.get(tp)) is not None and stored.get(TopicPartition(*tp), 0) >= end]

    async def tick(self) -> tuple[int, list[str]]:
        """Fire what is due now; returns (deadlines fired, ids of new alerts)."""
        now = self.clock.now()
        async with self.store.reading() as (conn, tables):  # no write lock unless one is due
            owned = await self._settled(conn, tables)
            if not owned:
                return 0, []
            first = await next_due(conn, owned)
        if first is None or first > now:
            return 0, []
        async with self.store.writing() as (conn, tables):
            await lock_offsets(conn, tables, owned)
            due = await due_deadlines(conn, now, owned, self._batch)
            if not due:
                return 0, []
            about_shipments = {p.deadline.subject for p in due
                               if p.deadline.rule in SHIPMENT_RULES}
            approvals = await load_views(conn, tables.approvals, ApprovalView,
                                         {p.deadline.subject for p in due} - about_shipments)
            shipments = await load_views(conn, tables.shipments, ShipmentView, about_shipments)
            approvals |= await export_approvals_of(
                conn, tables, {s.exporter_uscc for s in shipments.values()})
            projects = await load_views(conn, tables.projects, ProjectView,
                                        {v.project_id for v in approvals.values() if v.project_id})
            ctx = Context(now, self.config, self.directory,
                          ViewSnapshot(approvals, shipments, projects))
            notices = [n for p in due for n in fire(p.deadline, ctx)]
            new = await record_alerts(conn, [alert_of(n, self.directory, now) for n in notices])
            await mark_fired(conn, [p.deadline.key for p in due], now)
        for notice in notices:
            log.info("deadline_alert_raised", alert_id=notice.alert_id, org=notice.recipient,
                     rule=notice.rule.value, key=notice.cause.key)
        if new and self._on_new is not None:
            self._on_new()
        return len(due), new

    async def run(self, stop: asyncio.Event, interval_s: float = 30.0) -> None:
        """Tick until ``stop``: at once again after a full batch, else after ``interval_s``."""
        while not stop.is_set():
            try:
                fired, _ = await self.tick()
            except Exception:
                log.exception("deadline_tick_failed")
                fired = 0
            if fired < self._batch:
                await self._pause(stop, interval_s)

    async def _pause(self, stop: asyncio.Event, interval_s: float) -> None:
        """Sleep on the clock, but wake at once when ``stop`` is set (a prompt SIGTERM)."""
        sleeper = asyncio.ensure_future(self.clock.sleep(interval_s))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
