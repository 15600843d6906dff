"""Registering webhooks, and the worker that sends queued webhook deliveries and records them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts import tables as t
from consumers.alerts.clock import Clock
from consumers.alerts.store import AlertStore
from consumers.alerts.webhook_targets import TargetPolicy
from consumers.alerts.webhooks import (
    DeadLetterSink,
    Webhook,
    WebhookSender,
    new_secret,
    webhook_body,
)
from schemas.alerts import AlertRaised
from schemas.envelope import KafkaRecord, format_time
from schemas.errors import EminingError
from schemas.topics import DLQ
from transport.sender import Ack, RecordSender

log = structlog.get_logger("consumers.alerts.webhooks")


async def add_webhook(conn: AsyncConnection, org: str, url: str, now: datetime,
                      targets: TargetPolicy) -> Webhook:
    """Register ``url`` for ``org``'s alerts; the returned secret is shown to the caller once.
    A URL the target policy refuses (malformed, internal) raises ``WebhookTargetError``."""
    await targets.check(url)
    hook = Webhook(uuid.uuid4().hex, org, url, new_secret())
    await conn.execute(t.webhooks.insert().values(id=hook.id, org=org, url=url,
                                                  secret=hook.secret, active=True,
                                                  created_at=format_time(now)))
    return hook


async def list_webhooks(conn: AsyncConnection, org: str) -> list[Webhook]:
    w = t.webhooks
    rows = await conn.execute(select(w).where(w.c.org == org, w.c.active.is_(True))
                              .order_by(w.c.created_at))
    return [Webhook(r.id, r.org, r.url, r.secret) for r in rows]


async def remove_webhook(conn: AsyncConnection, org: str, webhook_id: str, now: datetime
                         ) -> bool:
    """Disable ``org``'s webhook; deliveries still queued for it are cancelled with it."""
    w, d = t.webhooks, t.deliveries
    result = await conn.execute(update(w).where(w.c.id == webhook_id, w.c.org == org,
                                                w.c.active.is_(True)).values(active=False))
    if not result.rowcount:
        return False
    await conn.execute(update(d).where(d.c.webhook_id == webhook_id,
                                       d.c.status.in_(("pending", "sending")))
                       .values(status="cancelled", updated_at=format_time(now),
                               claimed_until=None, last_error="webhook removed"))
    return True


@dataclass(frozen=True, slots=True)
class WebhookHealth:
    """How a webhook's deliveries went: what its owner sees when it lists its webhooks."""

    delivered: int = 0
    dead: int = 0
    pending: int = 0
    last_error: str | None = None


async def webhook_health(conn: AsyncConnection, org: str) -> dict[str, WebhookHealth]:
    """Per active webhook of ``org``: deliveries made, dead-lettered and waiting; last failure."""
    d, w = t.deliveries, t.webhooks
    rows = list(await conn.execute(
        select(d.c.webhook_id, d.c.status, d.c.last_error, d.c.updated_at)
        .join(w, w.c.id == d.c.webhook_id).where(w.c.org == org, w.c.active.is_(True))
        .order_by(d.c.updated_at)))
    counts: dict[str, dict[str, int]] = {}
    errors: dict[str, str] = {}
    for row in rows:
        bucket = counts.setdefault(row.webhook_id, {})
        bucket[row.status] = bucket.get(row.status, 0) + 1
        if row.status == "dead" and row.last_error:
            errors[row.webhook_id] = row.last_error
    return {hook: WebhookHealth(c.get("delivered", 0), c.get("dead", 0),
                                c.get("pending", 0) + c.get("sending", 0), errors.get(hook))
            for hook, c in counts.items()}


async def still_active(conn: AsyncConnection, webhook_ids: Sequence[str]) -> set[str]:
    w = t.webhooks
    rows = await conn.execute(select(w.c.id).where(w.c.id.in_(list(webhook_ids)),
                                                   w.c.active.is_(True)))
    return {r.id for r in rows}


@dataclass(frozen=True, slots=True)
class Job:
    webhook: Webhook
    alert: AlertRaised


class KafkaDeadLetters:
    """Failed webhook deliveries go to ``emining.dlq.v1``: body unchanged, reason in headers."""

    def __init__(self, sender: RecordSender, topic: str = DLQ) -> None:
        self._sender = sender
        self.topic = topic

    async def dead(self, webhook: Webhook, alert_id: str, body: bytes, reason: str) -> None:
        headers = {"dlq_reason": "webhook_failed", "dlq_detail": reason[:1000],
                   "dlq_consumer": "alerts-webhooks",
                   "dlq_id": f"webhook:{webhook.id}:{alert_id}",
                   "dlq_webhook": webhook.id, "dlq_org": webhook.org, "dlq_url": webhook.url}
        record = KafkaRecord(self.topic, alert_id.encode(), body,
                             [(k, v.encode()) for k, v in headers.items()])
        [ack] = await self._sender.send([record])
        if not isinstance(ack, Ack):
            raise EminingError(f"the DLQ did not acknowledge webhook dead letter: {ack}")


class WebhookWorker:
    """Claims queued deliveries, sends them concurrently, records each outcome."""

    def __init__(self, store: AlertStore, sender: WebhookSender, dead_letters: DeadLetterSink,
                 *, source: str, clock: Clock, lease: timedelta = timedelta(minutes=30),
                 concurrency: int = 16) -> None:
        self._store, self._sender, self._dead = store, sender, dead_letters
        self.source, self._clock, self._lease = source, clock, lease
        self._limit = asyncio.Semaphore(concurrency)
        self._batch = concurrency * 4

    async def _claim(self) -> list[Job]:
        d, w, a = t.deliveries, t.webhooks, t.alerts
        now = format_time(self._clock.now())
        async with self._store.writing() as conn:
            free = or_(d.c.status == "pending",
                       and_(d.c.status == "sending", d.c.claimed_until < now))
            rows = list(await conn.execute(
                select(d.c.alert_id, d.c.webhook_id, w.c.org, w.c.url, w.c.secret, a.c.doc)
                .join(w, w.c.id == d.c.webhook_id).join(a, a.c.alert_id == d.c.alert_id)
                .where(free, w.c.active.is_(True)).order_by(a.c.seq).limit(self._batch)))
            for row in rows:
                await conn.execute(update(d).where(d.c.alert_id == row.alert_id,
                                                   d.c.webhook_id == row.webhook_id)
                                   .values(status="sending", updated_at=now,
                                           claimed_until=format_time(self._clock.now()
                                                                     + self._lease)))
        return [Job(Webhook(r.webhook_id, r.org, r.url, r.secret),
                    AlertRaised.model_validate_json(r.doc)) for r in rows]

    async def _one(self, job: Job) -> tuple[Job, str, int, str | None]:
        """Send one delivery; whatever happens is its outcome, never an exception."""
        try:
            return await self._send(job)
        except Exception as exc:  # one target's failure must not stop the worker
            log.exception("webhook_delivery_failed", alert_id=job.alert.alert_id,
                          org=job.webhook.org, webhook_id=job.webhook.id)
            return job, "dead", 0, f"{type(exc).__name__}: {exc}"[:500]

    async def _send(self, job: Job) -> tuple[Job, str, int, str | None]:
        body = webhook_body(job.alert, self.source)
        async with self._limit:
            async with self._store.reading() as conn:  # removed since it was claimed?
                if job.webhook.id not in await still_active(conn, [job.webhook.id]):
                    return job, "cancelled", 0, "webhook removed"
            outcome = await self._sender.deliver(job.webhook, job.alert.alert_id, body)
        if outcome.delivered:
            return job, "delivered", outcome.attempts, None
        reason = f"{outcome.attempts} attempt(s), last: {outcome.error}"
        await self._dead.dead(job.webhook, job.alert.alert_id, body, reason)
        log.error("webhook_dead_lettered", alert_id=job.alert.alert_id, org=job.webhook.org,
                  webhook_id=job.webhook.id, reason=reason)
        return job, "dead", outcome.attempts, reason

    async def run_once(self) -> int:
        """Send what is queued now; returns how many deliveries were settled."""
        jobs = await self._claim()
        if not jobs:
            return 0
        results = await asyncio.gather(*(self._one(job) for job in jobs))
        await self._record(results)
        return len(results)

    async def _record(self, results: Sequence[tuple[Job, str, int, str | None]]) -> None:
        d, now = t.deliveries, format_time(self._clock.now())
        async with self._store.writing() as conn:
            for job, status, attempts, error in results:
                await conn.execute(update(d).where(d.c.alert_id == job.alert.alert_id,
                                                   d.c.webhook_id == job.webhook.id,
                                                   d.c.status != "cancelled")
                                   .values(status=status, attempts=d.c.attempts + attempts,
                                           last_error=error, updated_at=now, claimed_until=None))

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                settled = await self.run_once()
            except Exception:  # a store hiccup: log, wait, go on
                log.exception("webhook_worker_failed")
                settled = 0
            if settled == 0:
                await self._clock.sleep(idle_s)


async def delivery_status(conn: AsyncConnection, alert_id: str) -> dict[str, tuple[str, int]]:
    """Webhook id → (status, attempts) of one alert's deliveries."""
    d = t.deliveries
    rows = await conn.execute(select(d.c.webhook_id, d.c.status, d.c.attempts)
                              .where(d.c.alert_id == alert_id))
    return {r.webhook_id: (r.status, r.attempts) for r in rows}
