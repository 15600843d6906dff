"""The delivery worker: publishes the alert outbox to ``emining.alerts.<org>``, exactly once.

Alerts are signed by the platform operator's key as one source per worker
(``urn:emining:xx:platform:operator/<instance>``) through the publisher SDK, with the alert id as
the CloudEvents id. An alert leaves the outbox only when the broker acknowledged it. What a crash
can leave unknown (sent, but not yet recorded as sent; or signed in the SDK's own outbox, but not
acknowledged) is settled before anything is sent again: the worker reads the alerts topic from
the time of the previous attempt and marks every id it finds there as delivered, not re-sent.
An alert an earlier attempt of this worker signed but saw no acknowledgement for (a broker
failover, a partition) is never signed again: the publisher re-sends its pending record, or finds
it on the log, before anything new, and the worker records where that landed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from consumers.alerts.store import (
    AlertStore,
    Delivered,
    Outgoing,
    claim,
    mark_delivered,
    pending_alerts,
    release,
)
from producers.chainstore import Acknowledged, ChainStore
from producers.log_lookup import find_ids
from producers.publisher import Draft, Publisher
from schemas.alerts import AlertRaised
from schemas.signing import PrivateKey
from transport.access import KafkaAccess
from transport.errors import PublishError

log = structlog.get_logger("consumers.alerts.delivery")

EnsureTopics = Callable[[Sequence[str]], Awaitable[None]]
"""Creates the alerts topics of the given organisations if missing (wired in ``infra``)."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far apart the clocks of workers and broker may be: the look-back of a search."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

CLAIM_BATCH = 2000
"""Alerts claimed at once. Each claim and each record of delivery is a write transaction, and on
SQLite a write waits its turn behind the view batch in progress (~0.3-0.5 s at 1,000 events/s):
claims of 500 held delivery near 600 alerts/s while the consumer raised 2,000/s
(docs/performance.md, "Sixth pass"). Signing 2,000 takes well under the two-minute lease."""


def _wall() -> datetime:
    """Claims and searches use the wall clock, never the rules' (possibly moved) clock."""
    return datetime.now(UTC)


class AlertDelivery:
    """Claims undelivered alerts, settles the doubtful ones, publishes the rest, records them."""

    def __init__(self, store: AlertStore, *, key: PrivateKey, kafka: KafkaAccess, state_dir: Path,
                 instance: str = "alerts", ensure_topics: EnsureTopics | None = None,
                 lease: timedelta = timedelta(minutes=2), batch: int = CLAIM_BATCH,
                 timeout_s: float = 15.0, wake: asyncio.Event | None = None) -> None:
        self.source = f"{key.org}/{instance}"
        self._store, self._lease, self._batch = store, lease, batch
        self._kafka, self._state_dir, self._timeout_s = kafka, state_dir, timeout_s
        self._ensure = ensure_topics
        self._known_orgs: set[str] = set()
        self._publisher = Publisher(key=key, source=self.source, state_dir=state_dir,
                                    kafka=kafka, timeout_s=timeout_s)
        self.wake = wake or asyncio.Event()
        """Set by whoever commits new alerts, so they go out without waiting for a poll."""
        self._log = log.bind(source=self.source)

    async def start(self) -> None:
        await self._settle_signed()
        await self._publisher.start()

    async def stop(self) -> None:
        await self._publisher.stop()

    async def _settle_signed(self) -> None:
        """Alerts the SDK signed but saw no ack for: drop those the topic already has."""
        chain = ChainStore(self._state_dir, self.source)
        found: dict[str, tuple[str, int, int]] = {}
        try:
            pending = chain.pending()
            wanted: dict[str, set[str]] = {}
            keys: dict[str, set[bytes | None]] = {}
            for item in pending:
                wanted.setdefault(item.record.topic, set()).add(item.event_id)
                keys.setdefault(item.record.topic, set()).add(item.record.key)
            if wanted:
                signed = min(datetime.fromisoformat(dict(p.record.headers)["ce_time"].decode())
                             for p in pending)
                found = await find_ids(self._kafka, wanted, signed - CLOCK_SKEW,
                                       timeout_s=self._timeout_s, keys=keys)
            chain.acknowledge([p.sequence for p in pending if p.event_id in found])
        finally:
            chain.close()
        if found:
            self._log.warning("alerts_found_already_sent", count=len(found), stage="sdk_outbox")

    async def _already_sent(self, doubtful: Sequence[Outgoing]) -> list[Delivered]:
        """Doubtful alerts (a previous attempt may have sent them) found on their topics.

        The look-up waits for what the leaders hold to be committed. It cannot stop the
        attempt that sent them: one of another worker, whose lease ran out while its producer
        still retried, could still land one afterwards (the lease, two minutes, makes that a
        producer stuck for minutes)."""
        wanted: dict[str, set[str]] = {}
        for job in doubtful:
            wanted.setdefault(job.topic, set()).add(job.alert_id)
        since = min(j.previous_claim or _EPOCH for j in doubtful)
        found = await find_ids(self._kafka, wanted, since - CLOCK_SKEW,
                               timeout_s=self._timeout_s)
        if found:
            self._log.warning("alerts_found_already_sent", count=len(found), stage="outbox")
        return [Delivered(i, *where) for i, where in found.items()]

    def _resent(self, waiting: set[str]) -> list[Delivered]:
        """Where the publisher's outbox put the alerts it held pending (re-sent, or found on the
        log). One not placed stays claimed and is looked up again once its lease ends."""
        placed: list[Delivered] = []
        for alert_id in sorted(waiting):
            state = self._publisher.known(alert_id)
            if (isinstance(state, Acknowledged) and state.partition is not None
                    and state.offset is not None):
                placed.append(Delivered(alert_id, state.topic, state.partition, state.offset))
            else:
                self._log.warning("alert_resent_not_placed", alert_id=alert_id)
        return placed

    async def _ensure_topics(self, alerts: Sequence[AlertRaised]) -> None:
        new = sorted({a.recipient for a in alerts} - self._known_orgs)
        if new and self._ensure is not None:
            await self._ensure(new)
        self._known_orgs.update(new)

    async def run_once(self) -> int:
        """Deliver one batch; returns how many alerts were recorded as delivered."""
        async with self._store.reading() as conn:  # the claim takes the write lock: only if due
            if not await pending_alerts(conn):
                return 0
        async with self._store.writing() as conn:
            jobs = await claim(conn, self.source, _wall(), self._lease, self._batch)
        if not jobs:
            return 0
        try:
            doubtful = [j for j in jobs if j.attempts > 1]
            done = await self._already_sent(doubtful) if doubtful else []
            settled = {d.alert_id for d in done}
            # signed by an earlier attempt, unacknowledged: publish_many re-sends them first
            pending = self._publisher.pending_ids()
            waiting = {j.alert_id for j in jobs if j.alert_id not in settled
                       and j.alert_id in pending}
            alerts = [AlertRaised.model_validate_json(j.doc) for j in jobs
                      if j.alert_id not in settled and j.alert_id not in waiting]
            await self._ensure_topics(alerts)
            results = await self._publisher.publish_many(
                [Draft(a, event_id=a.alert_id) for a in alerts])
            done += self._resent(waiting)
        except (PublishError, OSError, TimeoutError) as exc:
            async with self._store.writing() as conn:
                await release(conn, [j.alert_id for j in jobs])
            self._log.error("alerts_not_delivered", count=len(jobs), error=str(exc)[:300])
            raise
        done += [Delivered(r.id, r.topic, r.partition, r.offset) for r in results]
        async with self._store.writing() as conn:
            await mark_delivered(conn, done, _wall())
        for item in done:
            self._log.debug("alert_delivered", alert_id=item.alert_id, topic=item.topic,
                            offset=item.offset)
        return len(done)

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0, retry_s: float = 5.0) -> None:
        """Deliver until ``stop``; waits on ``wake`` (or ``idle_s``) when the outbox is empty."""
        while not stop.is_set():
            self.wake.clear()  # before looking: a wake-up during the batch is not lost
            try:
                delivered = await self.run_once()
            except (PublishError, OSError, TimeoutError):
                await asyncio.sleep(retry_s)
                continue
            if delivered == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), idle_s)
