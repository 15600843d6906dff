"""The outbox of a push channel: targets per organisation, deliveries queued, claimed, recorded.

SQL over a channel's ``OutboxTables``; every function takes the caller's connection (so
``queue`` runs in the transaction that records the alert delivered to Kafka). An organisation
only ever sees, adds or removes its own targets: every query is bound to ``org``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts import tables as t
from consumers.alerts.channel import Endpoint, OutboxTables
from consumers.store_batch import dialect_insert, in_chunks
from schemas.alerts import AlertRaised
from schemas.envelope import format_time


def _endpoint(tables: OutboxTables, row: Any, prefix: str = "") -> Endpoint:
    options = json.loads(getattr(row, f"{prefix}options")) if tables.has_options else {}
    return Endpoint(getattr(row, f"{prefix}id"), row.org, row.url, row.secret, options)


async def queue(conn: AsyncConnection, tables: OutboxTables, alert_ids: Sequence[str],
                stamp: str) -> int:
    """One pending delivery per alert and active target of its recipient; returns how many."""
    a, w = t.alerts, tables.targets
    rows = [{"alert_id": r[0], "target_id": r[1], "status": "pending", "attempts": 0,
             "updated_at": stamp}
            for ids in in_chunks(alert_ids)
            for r in await conn.execute(
                select(a.c.alert_id, w.c.id)
                .join(w, and_(w.c.org == a.c.recipient, w.c.active == true()))
                .where(a.c.alert_id.in_(ids)))]
    if rows:
        await conn.execute(dialect_insert(conn, tables.deliveries).on_conflict_do_nothing(),
                           rows)  # executemany: one compiled form (see ``record_alerts``)
    return len(rows)


async def add_target(conn: AsyncConnection, tables: OutboxTables, org: str, url: str,
                     secret: str, options: Mapping[str, str], now: datetime) -> Endpoint:
    """Register a target for ``org`` (URL, secret and options already checked)."""
    endpoint = Endpoint(uuid.uuid4().hex, org, url, secret, dict(options))
    values: dict[str, object] = {"id": endpoint.id, "org": org, "url": url, "secret": secret,
                                 "active": True, "created_at": format_time(now)}
    if tables.has_options:
        values["options"] = json.dumps(dict(options), sort_keys=True)
    await conn.execute(tables.targets.insert().values(values))
    return endpoint


async def list_targets(conn: AsyncConnection, tables: OutboxTables, org: str) -> list[Endpoint]:
    w = tables.targets
    rows = await conn.execute(select(w).where(w.c.org == org, w.c.active.is_(True))
                              .order_by(w.c.created_at))
    return [_endpoint(tables, r) for r in rows]


async def remove_target(conn: AsyncConnection, tables: OutboxTables, org: str, target_id: str,
                        now: datetime, why: str = "target removed") -> bool:
    """Disable ``org``'s target; deliveries still queued for it are cancelled with it."""
    w, d = tables.targets, tables.deliveries
    result = await conn.execute(update(w).where(w.c.id == target_id, w.c.org == org,
                                                w.c.active.is_(True)).values(active=False))
    if not result.rowcount:
        return False
    await conn.execute(update(d).where(d.c.target_id == target_id,
                                       d.c.status.in_(("pending", "sending")))
                       .values(status="cancelled", updated_at=format_time(now),
                               claimed_until=None, last_error=why))
    return True


@dataclass(frozen=True, slots=True)
class Health:
    """How a target's deliveries went: what its owner sees when it lists its targets."""

    delivered: int = 0
    dead: int = 0
    pending: int = 0
    last_error: str | None = None


async def health(conn: AsyncConnection, tables: OutboxTables, org: str) -> dict[str, Health]:
    """Per active target of ``org``: deliveries made, dead-lettered and waiting; last failure."""
    d, w = tables.deliveries, tables.targets
    rows = list(await conn.execute(
        select(d.c.target_id.label("target_id"), d.c.status, d.c.last_error, d.c.updated_at)
        .join(w, w.c.id == d.c.target_id).where(w.c.org == org, w.c.active.is_(True))
        .order_by(d.c.updated_at)))
    counts: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    for row in rows:
        bucket = counts.setdefault(row.target_id, {})
        bucket[row.status] = bucket.get(row.status, 0) + 1
        if row.status == "dead" and row.last_error:
            errors[row.target_id] = row.last_error
    return {target: Health(c.get("delivered", 0), c.get("dead", 0),
                           c.get("pending", 0) + c.get("sending", 0), errors.get(target))
            for target, c in counts.items()}


async def still_active(conn: AsyncConnection, tables: OutboxTables,
                       target_ids: Sequence[str]) -> set[str]:
    w = tables.targets
    rows = await conn.execute(select(w.c.id).where(w.c.id.in_(list(target_ids)),
                                                   w.c.active.is_(True)))
    return {r.id for r in rows}


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery; ``claim`` is the claim's fence (see ``claim``)."""

    endpoint: Endpoint
    alert: AlertRaised
    claim: str


async def claim(conn: AsyncConnection, tables: OutboxTables, now: datetime, lease: timedelta,
                limit: int) -> list[Job]:
    """Pending deliveries (and ``sending`` ones whose lease ended: a worker died) to active
    targets, oldest alert first, claimed as ``sending`` until ``now + lease``.

    Several workers may claim at once (``emining alerts deliver`` twice, or beside ``views
    run``): each row is taken by an UPDATE that still requires it free, so only one claimer
    gets it (PostgreSQL re-checks the condition after the row lock; SQLite has one writer), and
    on PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``, so concurrent claimers
    take different rows instead of waiting on the same ones. The claim's ``claimed_until`` is
    its fence: a row is only claimed again after that instant, at a later one, so the value
    differs for every claim of a row, and ``record`` writes an outcome only while it holds."""
    d, w, a = tables.deliveries, tables.targets, t.alerts
    stamp, until = format_time(now), format_time(now + max(lease, timedelta(0)))
    free = or_(d.c.status == "pending", and_(d.c.status == "sending", d.c.claimed_until < stamp))
    extra = [w.c.options.label("t_options")] if tables.has_options else []
    rows = list(await conn.execute(
        select(d.c.alert_id, w.c.id.label("t_id"), w.c.org, w.c.url, w.c.secret, *extra,
               a.c.doc)
        .join(w, w.c.id == d.c.target_id).join(a, a.c.alert_id == d.c.alert_id)
        .where(free, w.c.active.is_(True)).order_by(a.c.seq).limit(limit)
        .with_for_update(of=d, skip_locked=True)))
    jobs: list[Job] = []
    for row in rows:
        taken = await conn.execute(update(d).where(d.c.alert_id == row.alert_id,
                                                   d.c.target_id == row.t_id, free)
                                   .values(status="sending", updated_at=stamp,
                                           claimed_until=until))
        if taken.rowcount == 1:
            jobs.append(Job(_endpoint(tables, row, "t_"),
                            AlertRaised.model_validate_json(row.doc), until))
    return jobs


async def record(conn: AsyncConnection, tables: OutboxTables,
                 results: Sequence[tuple[Job, str, int, str | None]], now: datetime
                 ) -> list[Job]:
    """Each claimed delivery's outcome, written only while its claim holds: not after a
    cancellation, nor after its lease ended and another worker claimed it again (that
    worker's outcome is the one kept). Returns the jobs whose outcome was not written."""
    d, stamp = tables.deliveries, format_time(now)
    lost: list[Job] = []
    for job, status, attempts, error in results:
        written = await conn.execute(
            update(d).where(d.c.alert_id == job.alert.alert_id, d.c.target_id == job.endpoint.id,
                            d.c.status == "sending", d.c.claimed_until == job.claim)
            .values(status=status, attempts=d.c.attempts + attempts, last_error=error,
                    updated_at=stamp, claimed_until=None))
        if written.rowcount != 1:
            lost.append(job)
    return lost


async def pending(conn: AsyncConnection, tables: OutboxTables) -> bool:
    """Whether any delivery of the channel waits (a cheap read before a claiming write)."""
    d = tables.deliveries
    query = select(d.c.alert_id).where(d.c.status.in_(("pending", "sending"))).limit(1)
    return (await conn.execute(query)).first() is not None


async def delivery_status(conn: AsyncConnection, tables: OutboxTables,
                          alert_id: str) -> dict[str, tuple[str, int]]:
    """Target id → (status, attempts) of one alert's deliveries."""
    d = tables.deliveries
    rows = await conn.execute(select(d.c.target_id.label("target_id"), d.c.status,
                                     d.c.attempts).where(d.c.alert_id == alert_id))
    return {r.target_id: (r.status, r.attempts) for r in rows}
