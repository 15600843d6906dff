"""The delivery-channel port: what a push channel (webhooks, group robots, …) declares.

An alert reaches its recipient on the alerts topic (and from there the SSE stream, ``emining
alerts tail`` and the console's inbox, which all read it). A *push channel* also sends it to
targets an organisation registered for itself. A channel module declares one ``Channel``:

- ``name``: the word in routes (``/v1/alerts/channels/<name>``), the CLI (``emining alerts
  channels add <name>``), logs and dead letters;
- ``tables``: its targets and its outbox (``outbox_tables``), in the alerts' database: the
  outbox rows are written in the transaction that records the alert delivered to Kafka, so a
  crash loses nothing (``consumers/alerts/outbox.py`` writes and claims them);
- ``configured``: how an organisation configures a target (its secret and options), checked;
- ``body``/``prepare``/``judge``: one HTTP POST and how to read its answer; the worker
  (``consumers/alerts/channel_worker.py``) checks the URL against the target policy before every
  attempt (public addresses only: no SSRF), retries with ``retry``'s backoff, dead-letters to
  the DLQ and records each outcome;
- ``shown``: the URL as its owner and the DLQ see it (no credential in it).

``consumers/alerts/channels.py`` lists the channels; the composition (``infra``) builds one
worker per listed channel, and the HTTP routes and CLI commands serve them all by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text
from tenacity import wait_exponential

from consumers.alerts import tables as t
from schemas.alerts import AlertRaised
from schemas.errors import EminingError


class ChannelConfigError(EminingError):
    """A target's secret or options that its channel does not accept; the message says why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One organisation's registered target of one channel."""

    id: str
    org: str
    url: str
    secret: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What one attempt adds to the POST: headers, and query parameters (a URL signature)."""

    headers: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class OutboxTables:
    """A channel's targets (``id, org, url, secret, active, created_at`` [, ``options``]) and its
    deliveries (``alert_id, target_id, status, attempts, last_error, claimed_until,
    updated_at``); status ``pending`` → ``sending`` (claimed until a lease ends) →
    ``delivered``, ``dead`` or ``cancelled``."""

    targets: Table
    deliveries: Table

    @property
    def has_options(self) -> bool:
        return "options" in self.targets.c


def outbox_tables(targets: str, deliveries: str, *, target_column: str = "target_id",
                  options: bool = True) -> OutboxTables:
    """Declare a channel's two tables (created with the alerts' tables). ``target_column`` and
    ``options`` keep the shape of tables made before the port (the webhooks')."""
    columns: list[Column[Any]] = [Column("id", String(32), primary_key=True),
               Column("org", String(120), nullable=False, index=True),
               Column("url", Text, nullable=False),
               Column("secret", Text, nullable=False),
               Column("active", Boolean, nullable=False, default=True),
               Column("created_at", String(40), nullable=False)]
    if options:
        columns.append(Column("options", Text, nullable=False, default="{}"))
    target_table = Table(targets, t.metadata, *columns)
    delivery_table = Table(
        deliveries, t.metadata,
        Column("alert_id", String(32), primary_key=True),
        Column(target_column, String(32), key="target_id", primary_key=True),
        Column("status", String(16), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text),
        Column("claimed_until", String(40)),
        Column("updated_at", String(40), nullable=False),
    )
    Index(f"{deliveries}_status", delivery_table.c.status)
    return OutboxTables(target_table, delivery_table)


class Channel(Protocol):
    """A push channel for alerts (see the module's docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> OutboxTables: ...

    @property
    def retry(self) -> RetryPolicy: ...

    @property
    def issues_secret(self) -> bool:
        """True when the platform makes the secret (shown once); False when the organisation
        gives it (never shown back)."""
        ...

    def configured(self, secret: str | None, options: Mapping[str, str]
                   ) -> tuple[str, dict[str, str]]:
        """The secret to keep and the checked options of a new target; else
        ``ChannelConfigError``. The URL is checked by the target policy, not here."""
        ...

    def shown(self, url: str) -> str:
        """The URL as listed to its owner and written to the DLQ (credentials removed)."""
        ...

    def body(self, endpoint: Endpoint, alert: AlertRaised, source: str) -> bytes:
        """What is POSTed for ``alert`` to ``endpoint`` (the same for every attempt; it may
        follow the target's options, e.g. its flavour or language)."""
        ...

    def prepare(self, endpoint: Endpoint, alert_id: str, body: bytes, at: datetime) -> Prepared:
        """Headers and query parameters of one attempt made at ``at`` (signatures)."""
        ...

    def judge(self, status: int, content: bytes) -> tuple[int, str]:
        """The answer as a status (2xx delivered; 4xx but 408/425/429 permanent; else retried)
        and a short description for the last error."""
        ...
