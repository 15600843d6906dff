"""Webhooks: alerts POSTed to an organisation's URL, signed, retried with backoff, then DLQ.

The retries are ``tenacity``'s: exponential backoff without jitter, a fixed number of attempts,
and no retry after a 2xx, a permanent refusal (a 4xx other than 408, 425 and 429) or a target
the policy refuses.

The body is the alert as a CloudEvent in structured JSON, signed by the Standard Webhooks
conventions (the maintained ``standardwebhooks`` library): ``webhook-id`` (the alert's
deterministic id), ``webhook-timestamp`` (seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the ``whsec_`` secret. A receiver checks the
signature and refuses a timestamp outside its tolerance (the library's is 5 minutes), so a
captured call cannot be replayed later; it drops a repeated id (webhooks are at least once).
``X-Emining-Alert-Id`` repeats the id for receivers written before.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import structlog
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from consumers.alerts.webhook_targets import TargetPolicy, WebhookTargetError
from schemas.alerts import AlertRaised
from schemas.envelope import CONTENT_TYPE, SPECVERSION, encode_value, format_time

log = structlog.get_logger("consumers.alerts.webhooks")

SIGNATURE_HEADER = "webhook-signature"
TIMESTAMP_HEADER = "webhook-timestamp"
ID_HEADER = "webhook-id"
ALERT_ID_HEADER = "X-Emining-Alert-Id"
_PERMANENT = frozenset(range(400, 500)) - {408, 425, 429}
"""Client errors other than timeouts and throttling: retrying cannot help."""


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _signer(secret: str) -> StandardWebhook:
    try:
        return StandardWebhook(secret)
    except (ValueError, RuntimeError):  # a secret issued before the Standard Webhooks format
        return StandardWebhook(secret.encode())


def signed_headers(secret: str, alert_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent at ``at``."""
    return {ID_HEADER: alert_id, TIMESTAMP_HEADER: str(int(at.timestamp())),
            SIGNATURE_HEADER: _signer(secret).sign(alert_id, at, body)}


def signature_valid(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """What a receiver checks: the signature, and a timestamp within five minutes of now."""
    try:
        _signer(secret).verify(body, headers, json_parse=False)
    except WebhookVerificationError:
        return False
    return True


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

    def wait(self) -> wait_exponential:
        """``delay`` as tenacity's wait: after the n-th failed attempt, ``delay(n)``."""
        return wait_exponential(multiplier=self.base_s, exp_base=self.factor, max=self.max_s)


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


REFUSED_TARGET = -1
"""The outcome status of a target the policy refuses: permanent, never retried."""


class WebhookSender:
    """POSTs one alert to one webhook until it answers 2xx, a permanent error, or tries run out.

    Whatever the target does (a URL no client accepts, an internal address, a hung or odd
    server), the outcome is a value: nothing it does raises into the worker."""

    def __init__(self, client: httpx.AsyncClient, policy: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep, targets: TargetPolicy | None = None) -> None:
        self._client = client
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.targets = targets or TargetPolicy()

    async def _post(self, webhook: Webhook, alert_id: str, body: bytes) -> tuple[int | None, str]:
        try:
            target = await self.targets.check(webhook.url)
        except WebhookTargetError as exc:
            return REFUSED_TARGET, f"refused target: {exc}"[:500]
        headers = {"Content-Type": "application/cloudevents+json; charset=utf-8",
                   **signed_headers(webhook.secret, alert_id, body, datetime.now(UTC)),
                   ALERT_ID_HEADER: alert_id, "User-Agent": "emining-alerts/1",
                   "Host": target.host if target.port in {80, 443} else
                   f"{target.host}:{target.port}"}
        extensions = {"sni_hostname": target.host} if target.pinned else {}
        try:
            response = await self._client.post(
                target.request_url(), content=body, headers=headers,
                timeout=self.policy.timeout_s, extensions=extensions, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - any failure of a target is that target's outcome
            return None, f"{type(exc).__name__}: {exc}"[:500]
        return response.status_code, f"HTTP {response.status_code}"

    async def deliver(self, webhook: Webhook, alert_id: str, body: bytes) -> Outcome:
        bound = log.bind(alert_id=alert_id, org=webhook.org, webhook_id=webhook.id)
        if self.policy.attempts < 1:
            return Outcome(delivered=False, attempts=0, error="not attempted")
        tries = 0

        async def attempt() -> Outcome:
            nonlocal tries
            tries += 1
            status, error = await self._post(webhook, alert_id, body)
            if status is not None and 200 <= status < 300:  # noqa: PLR2004 - HTTP success
                bound.info("webhook_delivered", attempts=tries, status=status)
                return Outcome(delivered=True, attempts=tries, status=status)
            bound.warning("webhook_attempt_failed", attempt=tries, error=error)
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
