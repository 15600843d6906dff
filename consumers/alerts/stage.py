"""The alerts' part of a view batch: event rules and deadline scheduling, in the batch transaction.

``ViewSync`` calls ``on_batch`` with the events the fold applied (in log order) and the views they
left, inside the transaction that writes those views and the consumed offsets. The alerts go to
the outbox and the subjects' deadlines are replaced in that same transaction: after a crash
either the batch, its alerts and its deadlines are all recorded, or none is and the batch is
applied again. Alert ids are deterministic and the outbox is also the ledger of every id ever
raised, so a replay adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import structlog
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts.clock import Clock
from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context, ViewSnapshot, needs
from consumers.alerts.deadlines import schedule
from consumers.alerts.directory import Directory
from consumers.alerts.render import alert_of
from consumers.alerts.rules_events import event_notices
from consumers.alerts.store import Placed, record_alerts, replace_all_deadlines
from consumers.alerts.subscriptions import list_subscriptions
from consumers.fold import Changes, Position
from consumers.store_schema import Tables
from consumers.verification import Accepted
from consumers.views.facts import Fact
from consumers.views.models import ApprovalKind, ApprovalView, ViewDoc
from schemas.events.corrections import Correction

log = structlog.get_logger("consumers.alerts.stage")

V = TypeVar("V", bound=ViewDoc)
SCHEDULED_FAMILIES = frozenset({"approvals", "shipments"})


def nothing() -> None:
    """The default ``on_new`` callback: no one to wake."""


async def load_views(conn: AsyncConnection, table: Table, model: type[V],
                     subjects: Iterable[str]) -> dict[str, V]:
    """The stored documents of ``subjects`` (those that exist)."""
    wanted = sorted(set(subjects))
    if not wanted:
        return {}
    rows = await conn.execute(select(table.c.subject, table.c.doc)
                              .where(table.c.subject.in_(wanted)))
    return {row.subject: model.model_validate_json(row.doc) for row in rows}


async def export_approvals_of(conn: AsyncConnection, tables: Tables,
                              exporters: Iterable[str]) -> dict[str, ApprovalView]:
    """Every export approval (LPCO) the given exporters hold, by number."""
    wanted = sorted(set(exporters))
    if not wanted:
        return {}
    table = tables.approvals
    rows = await conn.execute(select(table.c.subject, table.c.doc).where(
        table.c.kind == ApprovalKind.EXPORT.value, table.c.party.in_(wanted)))
    return {row.subject: ApprovalView.model_validate_json(row.doc) for row in rows}


def fact_of(accepted: Accepted) -> Fact:
    env = accepted.envelope
    return Fact(env.id, env.source, env.type, env.time, env.data)


class AlertStage:
    """Raises a batch's event alerts and keeps its subjects' deadlines."""

    def __init__(self, directory: Directory, config: AlertConfig, clock: Clock,
                 on_new: Callable[[], None] = nothing) -> None:
        self.directory, self.config, self.clock = directory, config, clock
        self._on_new = on_new

    async def on_batch(self, conn: AsyncConnection, tables: Tables,
                       applied: Sequence[tuple[Accepted, Position]],
                       changes: Changes) -> list[str]:
        """Record the batch's alerts and deadlines; returns the ids of alerts new to the outbox."""
        now = self.clock.now()
        arrivals = [(fact_of(a), p.appended_at) for a, p in applied
                     if not isinstance(a.envelope.data, Correction)]
        facts = [f for f, _ in arrivals]
        wanted = [needs(f) for f in facts]
        after = {(f.name, s): v for f, s, v in changes.views if v is not None}
        refs = {r for n in wanted for r in n.approvals}
        approvals = await load_views(conn, tables.approvals, ApprovalView,
                                     refs - {s for f, s in after if f == "approvals"})
        approvals.update({s: v for (f, s), v in after.items()
                          if f == "approvals" and s in refs and isinstance(v, ApprovalView)})
        subs = await list_subscriptions(conn) if any(n.subscriptions for n in wanted) else []
        ctx = Context(now, self.config, self.directory, ViewSnapshot(approvals=approvals),
                      tuple(subs))
        notices = [n for fact, arrived in arrivals for n in event_notices(fact, ctx, arrived)]
        await self._schedule(conn, applied, changes)
        new = await record_alerts(conn, [alert_of(n, self.directory, now) for n in notices])
        fresh = set(new)
        for notice in notices:
            if notice.alert_id in fresh:
                log.debug("alert_raised", alert_id=notice.alert_id, org=notice.recipient,
                          rule=notice.rule.value, about=notice.about)
        if new:
            log.info("alerts_raised", count=len(new), events=len(facts))
        return new

    async def _schedule(self, conn: AsyncConnection, applied: Sequence[tuple[Accepted, Position]],
                        changes: Changes) -> None:
        where = {a.envelope.subject: (p.topic, p.partition) for a, p in applied}
        wanted: dict[str, list[Placed]] = {}
        for family, subject, view in changes.views:
            if family.name in SCHEDULED_FAMILIES and subject in where:
                wanted[subject] = [Placed(d, *where[subject]) for d in schedule(view, self.config)]
        await replace_all_deadlines(conn, wanted)

    def committed(self, new: Sequence[str]) -> None:
        """Call after the batch transaction committed: wakes the delivery worker."""
        if new:
            self._on_new()
