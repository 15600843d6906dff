"""The ``webhook`` channel: alerts POSTed to an organisation's URL, signed, retried, then DLQ.

Retries, the target policy and the DLQ are every push channel's (``channel_worker.py``).

The body is the alert as a CloudEvent in structured JSON, signed by the Standard Webhooks
conventions (the maintained ``standardwebhooks`` library): ``webhook-id`` (the alert's
deterministic id), ``webhook-timestamp`` (seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">`` with the ``whsec_`` secret. A receiver checks the
signature and refuses a timestamp outside its tolerance (the library's is 5 minutes), so a
captured call cannot be replayed later; it drops a repeated id (webhooks are at least once).
``X-Emining-Alert-Id`` repeats the id for receivers written before.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from consumers.alerts.channel import (
    ChannelConfigError,
    Endpoint,
    OutboxTables,
    Prepared,
    RetryPolicy,
    outbox_tables,
)
from schemas.alerts import AlertRaised
from schemas.envelope import CONTENT_TYPE, SPECVERSION, encode_value, format_time

SIGNATURE_HEADER = "webhook-signature"
TIMESTAMP_HEADER = "webhook-timestamp"
ID_HEADER = "webhook-id"
ALERT_ID_HEADER = "X-Emining-Alert-Id"


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


Webhook = Endpoint
"""A registered webhook: ``id``, ``org``, ``url``, ``secret`` (no options)."""

TABLES = outbox_tables("alerts_webhooks", "alerts_webhook_deliveries",
                       target_column="webhook_id", options=False)
"""Per-organisation webhooks (the secret kept in clear: HMAC needs it to sign) and their
deliveries: the tables made before the channel port, unchanged."""


@dataclass(frozen=True, slots=True)
class WebhookChannel:
    """The ``webhook`` channel (tables made before the port, kept as they were)."""

    name: str = "webhook"
    tables: OutboxTables = TABLES
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    issues_secret: bool = True

    def configured(self, secret: str | None, options: Mapping[str, str]
                   ) -> tuple[str, dict[str, str]]:
        if secret is not None:
            raise ChannelConfigError("a webhook's secret is made by the platform, not given")
        if options:
            raise ChannelConfigError(f"a webhook takes no options (got {sorted(options)})")
        return new_secret(), {}

    def shown(self, url: str) -> str:
        return url

    def body(self, endpoint: Endpoint, alert: AlertRaised, source: str) -> bytes:  # noqa: ARG002
        return webhook_body(alert, source)

    def prepare(self, endpoint: Endpoint, alert_id: str, body: bytes, at: datetime) -> Prepared:
        return Prepared({"Content-Type": "application/cloudevents+json; charset=utf-8",
                         **signed_headers(endpoint.secret, alert_id, body, at),
                         ALERT_ID_HEADER: alert_id})

    def judge(self, status: int, content: bytes) -> tuple[int, str]:  # noqa: ARG002
        return status, f"HTTP {status}"


WEBHOOK = WebhookChannel()
