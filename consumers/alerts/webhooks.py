"""Webhooks: alerts POSTed to an organisation's URL, HMAC-signed, retried with backoff, then DLQ.

The body is the alert as a CloudEvent in structured JSON. ``X-Emining-Signature: sha256=<hex>``
is HMAC-SHA256 of the raw body with the webhook's secret; ``X-Emining-Alert-Id`` is the alert's
deterministic id, so a receiver drops a redelivery (webhooks are at least once: a crash between
the receiver's 2xx and our record of it sends the alert again, with the same id).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from schemas.alerts import AlertRaised
from schemas.envelope import CONTENT_TYPE, SPECVERSION, encode_value, format_time

log = structlog.get_logger("consumers.alerts.webhooks")

SIGNATURE_HEADER = "X-Emining-Signature"
ALERT_ID_HEADER = "X-Emining-Alert-Id"
_PERMANENT = frozenset(range(400, 500)) - {408, 425, 429}
"""Client errors other than timeouts and throttling: retrying cannot help."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver checks (constant-time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def webhook_body(alert: AlertRaised, source: str) -> bytes:
    """The alert as a structured-mode CloudEvent, compact JSON with sorted keys."""
    return encode_value({
        "specversion": SPECVERSION, "id": alert.alert_id, "source": source,
        "type": alert.ce_type(), "subject": alert.subject, "time": format_time(alert.raised_at),
        "datacontenttype": CONTENT_TYPE, "data": alert.model_dump(mode="json", exclude_none=True),
    })


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    org: str
    url: str
    secret: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the n-th retry waits ``base_s * factor**(n-1)``, capped."""

    attempts: int = 6
    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0
    timeout_s: float = 10.0

    def delay(self, retry: int) -> float:
        return float(min(self.max_s, self.base_s * self.factor ** (retry - 1)))


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    attempts: int
    error: str | None = None
    status: int | None = None


class DeadLetterSink(Protocol):
    """Where a webhook delivery goes when every attempt failed."""

    async def dead(self, webhook: Webhook, alert_id: str, body: bytes, reason: str) -> None: ...


Sleep = Callable[[float], Awaitable[None]]


class WebhookSender:
    """POSTs one alert to one webhook until it answers 2xx, a permanent error, or tries run out."""

    def __init__(self, client: httpx.AsyncClient, policy: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._client = client
        self.policy = policy or RetryPolicy()
        self._sleep = sleep

    async def _post(self, webhook: Webhook, alert_id: str, body: bytes) -> tuple[int | None, str]:
        headers = {"Content-Type": "application/cloudevents+json; charset=utf-8",
                   SIGNATURE_HEADER: sign(webhook.secret, body), ALERT_ID_HEADER: alert_id,
                   "User-Agent": "emining-alerts/1"}
        try:
            response = await self._client.post(webhook.url, content=body, headers=headers,
                                               timeout=self.policy.timeout_s)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return response.status_code, f"HTTP {response.status_code}"

    async def deliver(self, webhook: Webhook, alert_id: str, body: bytes) -> Outcome:
        bound = log.bind(alert_id=alert_id, org=webhook.org, webhook_id=webhook.id)
        error, status = "not attempted", None
        for attempt in range(1, self.policy.attempts + 1):
            if attempt > 1:
                await self._sleep(self.policy.delay(attempt - 1))
            status, error = await self._post(webhook, alert_id, body)
            if status is not None and 200 <= status < 300:  # noqa: PLR2004 - HTTP success
                bound.info("webhook_delivered", attempts=attempt, status=status)
                return Outcome(delivered=True, attempts=attempt, status=status)
            bound.warning("webhook_attempt_failed", attempt=attempt, error=error)
            if status in _PERMANENT:
                return Outcome(delivered=False, attempts=attempt, error=error, status=status)
        return Outcome(delivered=False, attempts=self.policy.attempts, error=error, status=status)
