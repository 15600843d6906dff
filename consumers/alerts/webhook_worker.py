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
from consumers.alerts.webhooks import (
    DeadLetterSink,
    Webhook,
    WebhookSender,
    new_secret,
    webhook_body,
)
from producers.sender import Ack, RecordSender
from schemas.alerts import AlertRaised
from schemas.envelope import KafkaRecord, format_time
from schemas.errors import EminingError
from schemas.topics import DLQ

log = structlog.get_logger("consumers.alerts.webhooks")


async def add_webhook(conn: AsyncConnection, org: str, url: str, now: datetime) -> Webhook:
    """Register ``url`` for ``org``'s alerts; the returned secret is shown to the caller once."""
    if not url.startswith(("https://", "http://")):
        raise EminingError(f"webhook url must be http(s): {url!r}")
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


async def remove_webhook(conn: AsyncConnection, org: str, webhook_id: str) -> bool:
    w = t.webhooks
    result = await conn.execute(update(w).where(w.c.id == webhook_id, w.c.org == org,
                                                w.c.active.is_(True)).values(active=False))
    return bool(result.rowcount)


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
                .where(free).order_by(a.c.seq).limit(self._batch)))
            for row in rows:
                await conn.execute(update(d).where(d.c.alert_id == row.alert_id,
                                                   d.c.webhook_id == row.webhook_id)
                                   .values(status="sending", updated_at=now,
                                           claimed_until=format_time(self._clock.now()
                                                                     + self._lease)))
        return [Job(Webhook(r.webhook_id, r.org, r.url, r.secret),
                    AlertRaised.model_validate_json(r.doc)) for r in rows]

    async def _one(self, job: Job) -> tuple[Job, str, int, str | None]:
        body = webhook_body(job.alert, self.source)
        async with self._limit:
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
                                                   d.c.webhook_id == job.webhook.id)
                                   .values(status=status, attempts=d.c.attempts + attempts,
                                           last_error=error, updated_at=now, claimed_until=None))

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        while not stop.is_set():
            if await self.run_once() == 0:
                await self._clock.sleep(idle_s)


async def delivery_status(conn: AsyncConnection, alert_id: str) -> dict[str, tuple[str, int]]:
    """Webhook id → (status, attempts) of one alert's deliveries."""
    d = t.deliveries
    rows = await conn.execute(select(d.c.webhook_id, d.c.status, d.c.attempts)
                              .where(d.c.alert_id == alert_id))
    return {r.webhook_id: (r.status, r.attempts) for r in rows}
