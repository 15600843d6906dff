"""Alert outbox, deadlines and deliveries: SQL over the views' database, transaction by caller.

Every function takes the caller's connection, so the consumer writes alerts and deadlines in the
very transaction that writes its views and consumed offsets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers import sqlite_inline
from consumers.alerts import tables as t
from consumers.alerts.channels import queue_all  # also declares each channel's tables
from consumers.alerts.model import Deadline
from consumers.store import ViewStore
from consumers.store_batch import dialect_insert, expanding, in_chunks, once
from schemas.alerts import AlertRaised, AlertRule
from schemas.envelope import format_time


class AlertStore:
    """The alert tables in the database of a ``ViewStore``."""

    def __init__(self, views: ViewStore) -> None:
        self.views = views

    async def open(self) -> None:
        await self.views.open()
        await self.create_tables()

    async def create_tables(self) -> None:
        """Create the alert tables if missing (the views store must be open)."""
        async with self.views.writing() as (conn, _), sqlite_inline.offloaded(conn):  # DDL
            await conn.run_sync(t.metadata.create_all)

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        async with self.views.writing() as (conn, _):
            yield conn

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.views.reading() as (conn, _):
            yield conn


async def record_alerts(conn: AsyncConnection, raised: Sequence[AlertRaised]) -> list[str]:
    """Add alerts to the outbox; an id already in the ledger is skipped. Returns the new ids."""
    if not raised:
        return []
    rows = [{"alert_id": a.alert_id, "recipient": a.recipient, "rule": a.rule.value,
             "about": a.about, "topic": a.destination_topic(),
             "raised_at": format_time(a.raised_at), "doc": a.model_dump_json(), "attempts": 0}
            for a in {a.alert_id: a for a in raised}.values()]
    # executemany (SQLAlchemy's "insertmanyvalues", RETURNING included): one compiled form
    # whatever the number of rows; a multi-row VALUES is compiled afresh per call (~25 ms at 200)
    stmt = once(("alerts_insert", t.alerts, conn.dialect.name), lambda: dialect_insert(
        conn, t.alerts).on_conflict_do_nothing(index_elements=["alert_id"])
        .returning(t.alerts.c.alert_id))
    return list((await conn.execute(stmt, rows)).scalars())


@dataclass(frozen=True, slots=True)
class Placed:
    """A deadline and where its subject's events live (the partition that owns it)."""

    deadline: Deadline
    topic: str
    partition: int


def _deadline_row(placed: Placed) -> dict[str, object]:
    d = placed.deadline
    return {"key": d.key, "rule": d.rule.value, "subject": d.subject, "topic": placed.topic,
            "log_partition": placed.partition, "fires_at": format_time(d.fires_at),
            "due_on": d.due_on.isoformat() if d.due_on else None,
            "params": json.dumps(dict(d.params), sort_keys=True)}


DEADLINE_SUBJECTS = 200
"""Subjects per DELETE of ``replace_all_deadlines``: PostgreSQL refuses a ``(subject, key) NOT IN``
list of some thousands of pairs ("stack depth limit exceeded"), which one batch of licences
(three reminders each) can reach."""


async def replace_all_deadlines(
    conn: AsyncConnection, wanted: Mapping[str, Sequence[Placed]]
) -> None:
    """Make each subject's pending deadlines exactly its ``wanted`` ones, for a whole batch in
    two statements (one compiled form each, whatever the batch's size); fired ones are never
    touched."""
    if not wanted:
        return
    dt = t.deadlines
    subjects = list(wanted)
    for at in range(0, len(subjects), DEADLINE_SUBJECTS):
        some = subjects[at:at + DEADLINE_SUBJECTS]
        kept = [(subject, p.deadline.key) for subject in some for p in wanted[subject]]
        await conn.execute(dt.delete().where(
            dt.c.subject.in_(some), dt.c.fired_at.is_(None),
            tuple_(dt.c.subject, dt.c.key).not_in(kept)))
    rows = [_deadline_row(p) for placed in wanted.values() for p in placed]
    if not rows:
        return
    stmt = dialect_insert(conn, dt)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["key"], where=dt.c.fired_at.is_(None),
        set_={"topic": stmt.excluded.topic, "log_partition": stmt.excluded.log_partition}),
        rows)


def _placed(row: Any) -> Placed:
    deadline = Deadline(AlertRule(row.rule), row.subject, datetime.fromisoformat(row.fires_at),
                        date.fromisoformat(row.due_on) if row.due_on else None, row.key,
                        json.loads(row.params))
    return Placed(deadline, row.topic, row.log_partition)


async def due_deadlines(
    conn: AsyncConnection, now: datetime, owned: Iterable[tuple[str, int]], limit: int = 500
) -> list[Placed]:
    """Unfired deadlines due by ``now`` whose subject lives in a partition of ``owned``."""
    owned = sorted(set(owned))
    if not owned:
        return []
    dt = t.deadlines
    mine = or_(*(and_(dt.c.topic == topic, dt.c.log_partition == p) for topic, p in owned))
    query = (select(dt).where(dt.c.fired_at.is_(None), dt.c.fires_at <= format_time(now), mine)
             .order_by(dt.c.fires_at, dt.c.key).limit(limit))
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return [_placed(row) for row in await conn.execute(query)]


async def next_due(conn: AsyncConnection, owned: Iterable[tuple[str, int]]) -> datetime | None:
    """When the earliest unfired deadline of ``owned`` partitions falls (a cheap read)."""
    owned = sorted(set(owned))
    if not owned:
        return None
    dt = t.deadlines
    mine = or_(*(and_(dt.c.topic == topic, dt.c.log_partition == p) for topic, p in owned))
    first = (await conn.execute(select(dt.c.fires_at).where(dt.c.fired_at.is_(None), mine)
                                .order_by(dt.c.fires_at).limit(1))).scalar_one_or_none()
    return datetime.fromisoformat(first) if first else None


async def pending_alerts(conn: AsyncConnection) -> bool:
    """Whether any alert waits for delivery (a cheap read before a claiming write)."""
    return (await conn.execute(_PENDING)).first() is not None


_PENDING = select(t.alerts.c.seq).where(t.alerts.c.delivered_at.is_(None)).limit(1)
"""Built once (the delivery asks before every claim; see ``consumers.store._LIVE``)."""


async def subject_deadlines(conn: AsyncConnection, subject: str) -> list[Placed]:
    dt = t.deadlines
    rows = await conn.execute(select(dt).where(dt.c.subject == subject).order_by(dt.c.fires_at))
    return [_placed(row) for row in rows]


async def mark_fired(conn: AsyncConnection, keys: Sequence[str], now: datetime) -> None:
    if keys:
        dt = t.deadlines
        await conn.execute(update(dt).where(dt.c.key.in_(keys), dt.c.fired_at.is_(None))
                           .values(fired_at=format_time(now)))


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An alert claimed for delivery to Kafka."""

    alert_id: str
    topic: str
    doc: str
    attempts: int
    """Delivery attempts including this one: above 1, a crash may already have sent it."""
    previous_claim: datetime | None
    """When the previous attempt began (wall clock): a sent copy is on the topic after it."""


async def claim(conn: AsyncConnection, worker: str, now: datetime, lease: timedelta,
                limit: int = 500) -> list[Outgoing]:
    """Undelivered alerts nobody else holds a live claim on, claimed for ``worker``.

    ``now`` is the wall clock (claims are operations, not rule time): it dates the attempt so
    that a later one knows from where on the topic to look for a copy this one may have sent.
    """
    stamp = format_time(now)
    query = once(("claimable", t.alerts, conn.dialect.name), lambda: _claimable(conn))
    rows = list(await conn.execute(query, {"now": stamp, "worker": worker, "limit": limit}))
    if not rows:
        return []
    for ids in in_chunks([r.alert_id for r in rows]):
        await conn.execute(_CLAIM, {"ids": list(ids), "worker": worker, "stamp": stamp,
                                    "until": format_time(now + lease)})
    return [Outgoing(r.alert_id, r.topic, r.doc, r.attempts + 1,
                     datetime.fromisoformat(r.claimed_at) if r.claimed_at else None)
            for r in rows]


def _claimable(conn: AsyncConnection) -> Any:
    a = t.alerts
    free = or_(a.c.claimed_until.is_(None), a.c.claimed_until < bindparam("now"),
               a.c.claimed_by == bindparam("worker"))
    query = (select(a.c.alert_id, a.c.topic, a.c.doc, a.c.attempts, a.c.claimed_at)
             .where(a.c.delivered_at.is_(None), free).order_by(a.c.seq)
             .limit(bindparam("limit", type_=Integer)))
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return query


_CLAIM = (update(t.alerts).where(t.alerts.c.alert_id.in_(expanding("ids")))
          .values(claimed_by=bindparam("worker"), claimed_at=bindparam("stamp"),
                  claimed_until=bindparam("until"), attempts=t.alerts.c.attempts + 1))
_DELIVERED = (update(t.alerts).where(t.alerts.c.alert_id == bindparam("id"))
              .values(delivered_at=bindparam("stamp"), log_partition=bindparam("p"),
                      log_offset=bindparam("o"), claimed_by=None, claimed_until=None))
"""Built once, as ``claim`` and ``mark_delivered`` run them every round (``store_batch.once``)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    alert_id: str
    topic: str
    partition: int
    offset: int


async def mark_delivered(conn: AsyncConnection, done: Sequence[Delivered], now: datetime) -> None:
    """Record Kafka deliveries and queue their deliveries on every push channel (the outbox of
    each channel is written in this same transaction)."""
    if not done:
        return
    stamp = format_time(now)
    await conn.execute(_DELIVERED, [{"id": d.alert_id, "p": d.partition, "o": d.offset,
                                     "stamp": stamp} for d in done])
    await queue_all(conn, [d.alert_id for d in done], stamp)


async def release(conn: AsyncConnection, alert_ids: Sequence[str]) -> None:
    """Give claimed alerts back (their delivery failed; any worker may try again)."""
    a = t.alerts
    for ids in in_chunks(alert_ids):
        await conn.execute(update(a).where(a.c.alert_id.in_(ids), a.c.delivered_at.is_(None))
                           .values(claimed_by=None, claimed_until=None))


async def alert_docs(conn: AsyncConnection, recipient: str | None = None,
                     limit: int = 1000) -> list[AlertRaised]:
    """Recorded alerts (newest last), for tests and the operator."""
    a = t.alerts
    query = select(a.c.doc).order_by(a.c.seq).limit(limit)
    if recipient is not None:
        query = query.where(a.c.recipient == recipient)
    return [AlertRaised.model_validate_json(doc) for doc in (await conn.execute(query)).scalars()]



async def recent_alerts(conn: AsyncConnection, recipient: str,
                        limit: int = 50) -> list[AlertRaised]:
    """One organisation's latest alerts, newest first (the console's inbox)."""
    a = t.alerts
    query = (select(a.c.doc).where(a.c.recipient == recipient).order_by(a.c.seq.desc())
             .limit(limit))
    return [AlertRaised.model_validate_json(doc) for doc in (await conn.execute(query)).scalars()]
