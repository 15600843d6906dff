"""The worker of a push channel: claims queued deliveries, POSTs them with retries, records them.

The retries are ``tenacity``'s: exponential backoff without jitter, a fixed number of attempts,
and no retry after a 2xx, a permanent refusal (a 4xx other than 408, 425 and 429, as the
channel's ``judge`` reads the answer) or a target the policy refuses. Every attempt checks the
URL against the ``TargetPolicy`` first and goes to the very address it checked. What a target
does is that delivery's outcome, never the worker's end; when the attempts run out the delivery
goes to the DLQ. A delivery claimed by a worker that died is claimed again when its lease ends
(at least once: a crash between the POST and its record sends it again). Several workers may
run at once: each delivery is claimed by one, and a worker whose lease ended before it recorded
does not overwrite the outcome of the worker that claimed the delivery again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

import httpx
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from consumers.alerts import outbox
from consumers.alerts.channel import Channel, Endpoint, Outcome, RetryPolicy
from consumers.alerts.clock import Clock
from consumers.alerts.outbox import Job
from consumers.alerts.store import AlertStore
from consumers.alerts.webhook_targets import TargetPolicy, WebhookTargetError
from schemas.envelope import KafkaRecord
from schemas.errors import EminingError
from schemas.topics import DLQ
from transport.sender import Ack, RecordSender

log = structlog.get_logger("consumers.alerts.channels")

_PERMANENT = frozenset(range(400, 500)) - {408, 425, 429}
"""Client errors other than timeouts and throttling: retrying cannot help."""
REFUSED_TARGET = -1
"""The outcome status of a target the policy refuses: permanent, never retried."""

Sleep = Callable[[float], Awaitable[None]]


class ChannelSender:
    """POSTs one alert to one target until it is delivered, refused for good, or tries run out.

    Whatever the target does (a URL no client accepts, an internal address, a hung or odd
    server), the outcome is a value: nothing it does raises into the worker."""

    def __init__(self, channel: Channel, client: httpx.AsyncClient,
                 policy: RetryPolicy | None = None, sleep: Sleep = asyncio.sleep,
                 targets: TargetPolicy | None = None) -> None:
        self.channel, self._client = channel, client
        self.policy = policy or channel.retry
        self._sleep = sleep
        self.targets = targets or TargetPolicy()

    async def _post(self, endpoint: Endpoint, alert_id: str, body: bytes
                    ) -> tuple[int | None, str]:
        try:
            target = await self.targets.check(endpoint.url)
        except WebhookTargetError as exc:
            return REFUSED_TARGET, f"refused target: {exc}"[:500]
        prepared = self.channel.prepare(endpoint, alert_id, body, datetime.now(UTC))
        headers = {"User-Agent": "emining-alerts/1", **prepared.headers,
                   "Host": target.host if target.port in {80, 443} else
                   f"{target.host}:{target.port}"}
        url = target.request_url()
        if prepared.params:
            url += ("&" if "?" in url else "?") + urlencode(dict(prepared.params))
        extensions = {"sni_hostname": target.host} if target.pinned else {}
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self.policy.timeout_s,
                extensions=extensions, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - any failure of a target is that target's outcome
            return None, f"{type(exc).__name__}: {exc}"[:500]
        status, error = self.channel.judge(response.status_code, response.content[:65536])
        return status, error[:500]

    async def deliver(self, endpoint: Endpoint, alert_id: str, body: bytes) -> Outcome:
        bound = log.bind(channel=self.channel.name, alert_id=alert_id, org=endpoint.org,
                         target_id=endpoint.id)
        if self.policy.attempts < 1:
            return Outcome(delivered=False, attempts=0, error="not attempted")
        tries = 0

        async def attempt() -> Outcome:
            nonlocal tries
            tries += 1
            status, error = await self._post(endpoint, alert_id, body)
            if status is not None and 200 <= status < 300:  # noqa: PLR2004 - HTTP success
                bound.info("channel_delivered", attempts=tries, status=status)
                return Outcome(delivered=True, attempts=tries, status=status)
            bound.warning("channel_attempt_failed", attempt=tries, error=error)
            return Outcome(delivered=False, attempts=tries, error=error, status=status)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.attempts), wait=self.policy.wait(),
            retry=retry_if_result(_worth_retrying), sleep=self._sleep,
            retry_error_callback=_last_outcome)
        return await retrying(attempt)


def _worth_retrying(outcome: Outcome) -> bool:
    """Not delivered, and neither a permanent refusal nor a target the policy refuses."""
    return not outcome.delivered and outcome.status not in _PERMANENT \
        and outcome.status != REFUSED_TARGET


def _last_outcome(state: RetryCallState) -> Outcome:
    """Attempts ran out: the outcome is the last attempt's (a value, never ``RetryError``)."""
    assert state.outcome is not None
    result = state.outcome.result()
    assert isinstance(result, Outcome)
    return result


class DeadLetterSink(Protocol):
    """Where a delivery goes when every attempt failed."""

    async def dead(self, channel: Channel, endpoint: Endpoint, alert_id: str, body: bytes,
                   reason: str) -> None: ...


class KafkaDeadLetters:
    """Failed deliveries go to ``emining.dlq.v1``: body unchanged, reason in headers (the URL
    as the channel shows it: a robot's key is not written there)."""

    def __init__(self, sender: RecordSender, topic: str = DLQ) -> None:
        self._sender = sender
        self.topic = topic

    async def dead(self, channel: Channel, endpoint: Endpoint, alert_id: str, body: bytes,
                   reason: str) -> None:
        name = channel.name
        headers = {"dlq_reason": f"{name}_failed", "dlq_detail": reason[:1000],
                   "dlq_consumer": f"alerts-{name}s", "dlq_id": f"{name}:{endpoint.id}:{alert_id}",
                   f"dlq_{name}": endpoint.id, "dlq_org": endpoint.org,
                   "dlq_url": channel.shown(endpoint.url)}
        record = KafkaRecord(self.topic, alert_id.encode(), body,
                             [(k, v.encode()) for k, v in headers.items()])
        [ack] = await self._sender.send([record])
        if not isinstance(ack, Ack):
            raise EminingError(f"the DLQ did not acknowledge {name} dead letter: {ack}")


Result = tuple[Job, str, int, str | None]


class ChannelWorker:
    """Claims a channel's queued deliveries, sends them concurrently, records each outcome."""

    def __init__(self, store: AlertStore, sender: ChannelSender, dead_letters: DeadLetterSink,
                 *, source: str, clock: Clock, lease: timedelta = timedelta(minutes=30),
                 concurrency: int = 16) -> None:
        self._store, self._sender, self._dead = store, sender, dead_letters
        self.channel = sender.channel
        self.source, self._clock, self._lease = source, clock, lease
        self._limit = asyncio.Semaphore(concurrency)
        self._batch = concurrency * 4

    async def _claim(self) -> list[Job]:
        tables = self.channel.tables
        async with self._store.reading() as conn:  # the claim takes the write lock: only if due
            if not await outbox.pending(conn, tables):
                return []
        async with self._store.writing() as conn:
            return await outbox.claim(conn, tables, self._clock.now(), self._lease, self._batch)

    async def _one(self, job: Job) -> Result:
        """Send one delivery; whatever happens is its outcome, never an exception."""
        try:
            return await self._send(job)
        except Exception as exc:  # one target's failure must not stop the worker
            log.exception("channel_delivery_failed", channel=self.channel.name,
                          alert_id=job.alert.alert_id, org=job.endpoint.org,
                          target_id=job.endpoint.id)
            return job, "dead", 0, f"{type(exc).__name__}: {exc}"[:500]

    async def _send(self, job: Job) -> Result:
        body = self.channel.body(job.endpoint, job.alert, self.source)
        async with self._limit:
            async with self._store.reading() as conn:  # removed since it was claimed?
                if not await outbox.still_active(conn, self.channel.tables, [job.endpoint.id]):
                    return job, "cancelled", 0, "target removed"
            outcome = await self._sender.deliver(job.endpoint, job.alert.alert_id, body)
        if outcome.delivered:
            return job, "delivered", outcome.attempts, None
        reason = f"{outcome.attempts} attempt(s), last: {outcome.error}"
        await self._dead.dead(self.channel, job.endpoint, job.alert.alert_id, body, reason)
        log.error("channel_dead_lettered", channel=self.channel.name, alert_id=job.alert.alert_id,
                  org=job.endpoint.org, target_id=job.endpoint.id, reason=reason)
        return job, "dead", outcome.attempts, reason

    async def run_once(self) -> int:
        """Send what is queued now; returns how many deliveries were settled."""
        jobs = await self._claim()
        if not jobs:
            return 0
        results = await asyncio.gather(*(self._one(job) for job in jobs))
        await self._record(results)
        return len(results)

    async def _record(self, results: Sequence[Result]) -> None:
        async with self._store.writing() as conn:
            lost = await outbox.record(conn, self.channel.tables, results, self._clock.now())
        for job in lost:  # cancelled meanwhile, or its lease ended and another worker has it
            log.warning("channel_claim_lost", channel=self.channel.name,
                        alert_id=job.alert.alert_id, org=job.endpoint.org,
                        target_id=job.endpoint.id)

    async def run(self, stop: asyncio.Event, idle_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                settled = await self.run_once()
            except Exception:  # a store hiccup: log, wait, go on
                log.exception("channel_worker_failed", channel=self.channel.name)
                settled = 0
            if settled == 0:
                await self._clock.sleep(idle_s)
