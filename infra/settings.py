"""One settings object for every command and service, read from ``EMINING_*`` variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from schemas.timing import TimeBounds

GATEWAY_MAX_BODY_BYTES = 80 * 1024
"""Event data up to the bus limit (``schemas.envelope.MAX_VALUE_BYTES``, 64 KiB) plus room for the
envelope attributes around it. A literal, so reading settings stays light."""


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emining"


def _default_state_dir() -> Path:
    """Per user, not per working directory: every shell talks to the same local broker."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "emining"


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``EMINING_<FIELD>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="EMINING_", extra="ignore", frozen=True)

    kafka_bootstrap: str | None = Field(
        default=None,
        description="host:port of an existing Kafka cluster; unset: the project's local broker",
    )
    kafka_security: Literal["scram", "scram-tls", "none"] = Field(
        default="scram",
        description="scram: SASL/SCRAM-SHA-512, every client its own principal, ACLs deny by "
        "default; scram-tls: the same over TLS; none: no authentication and no ACLs (a "
        "developer's local broker only, never shared)",
    )
    kafka_username: str | None = Field(
        default=None,
        description="the Kafka principal this process acts as (an organisation URN or a platform "
        "service); unset with the local broker: its admin",
    )
    kafka_password: SecretStr | None = Field(
        default=None, description="that principal's SCRAM password (printed once when issued)"
    )
    kafka_password_file: Path | None = Field(
        default=None, description="or a file holding the password (first line)"
    )
    kafka_ca_file: Path | None = Field(
        default=None,
        description="PEM CA bundle that signed the broker's TLS certificate (scram-tls); "
        "default for the local broker: <state_dir>/kafka/tls/ca.pem",
    )
    audit_kafka_username: str | None = Field(
        default=None,
        description="`emining serve` only: the principal its console's audit pages read the whole "
        "log as (the platform's audit service, `emining-audit`), for verify and the state as of "
        "a day; unset: those pages point to the CLI, unless serve itself is the local broker's "
        "admin",
    )
    audit_kafka_password: SecretStr | None = Field(
        default=None, description="that principal's SCRAM password"
    )
    audit_kafka_password_file: Path | None = Field(
        default=None, description="or a file holding it (first line)"
    )
    kafka_reauth_s: float = Field(
        default=3600.0, gt=0,
        description="the local broker's connections.max.reauth.ms, in seconds: how long a "
        "session opened with a since rotated password lasts at most",
    )
    state_dir: Path = Field(
        default_factory=_default_state_dir,
        description="broker data and logs, keys, chain state (survives restarts)",
    )
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="where the Kafka jars fetched from Maven Central are cached, keyed by version",
    )
    kafka_heap: str = Field(
        default="-Xms256m -Xmx512m", description="JVM heap flags for the broker"
    )
    kafka_start_timeout_s: float = Field(
        default=90.0, gt=0, description="bound on the local broker becoming ready after start"
    )
    kafka_fetch_timeout_s: float = Field(
        default=600.0, gt=0, description="bound on fetching the broker jars from Maven Central"
    )
    client_timeout_s: float = Field(
        default=15.0, gt=0, description="bound on any single broker operation before a clear error"
    )
    time_future_skew_s: float = Field(
        default=300.0, ge=0, description="an event's time may be at most this far ahead of the "
        "broker's append time (or the gateway's clock); beyond it the record is refused")
    time_past_skew_s: float = Field(
        default=3 * 86400.0, ge=0, description="an event's time may be at most this far behind "
        "its append time, unless a backfill window admits it (emining participants backfill). "
        "Every reader of one log must use the same value, or live views and rebuilds differ")
    topic_partitions: int = Field(default=6, ge=1, description="partitions of the shared topics")
    topic_replication: int | None = Field(
        default=None, ge=1,
        description="copies of each topic; default 3, or the live brokers if fewer",
    )
    operator_key_file: Path | None = Field(
        default=None,
        description="the platform operator's signing key; default <state_dir>/keys/operator.key",
    )
    trust_anchor: str | None = Field(
        default=None,
        description="comma-separated base64 Ed25519 public keys whose signatures make the "
        "registry; default: the public half of the operator key file",
    )
    log_level: Literal["debug", "info", "warning", "error"] | None = Field(
        default=None, description="default: warning for CLI commands, info for services"
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: readable on a TTY, JSON lines otherwise"
    )
    gateway_max_body_bytes: int = Field(
        default=GATEWAY_MAX_BODY_BYTES,
        ge=1024,
        description="largest HTTP body the ingestion gateway reads (event data: 64 KiB at most)",
    )
    custody_dir: Path | None = Field(
        default=None,
        description="organisation keys the gateway signs with custodially; "
        "default <state_dir>/custody",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="hashed gateway API keys, one per organisation; "
        "default <state_dir>/gateway/api_keys.json",
    )
    registry_refresh_s: float = Field(
        default=30.0, gt=0, description="how often the gateway re-reads the registry from the log"
    )
    views_url: str | None = Field(
        default=None,
        description="the views store: sqlite:///path or postgresql://user@host/db; "
        "default a SQLite file <state_dir>/views.sqlite",
    )
    views_group: str = Field(default="emining-views", description="the view consumers' group")
    views_instance: str | None = Field(
        default=None,
        description="static group membership id of this view consumer (one per process): a "
        "restart gets its partitions back without a rebalance",
    )
    views_batch_size: int = Field(
        default=500, ge=1, le=10_000, description="records per view transaction"
    )
    views_verify_workers: int = Field(
        default=1, ge=0, le=1, description="worker processes verifying the next batch while the "
        "view consumer applies the one before (consumers/pipeline.py): 1 uses a second core; 0 "
        "verifies in the consumer's own process"
    )
    views_gap_grace_s: float = Field(
        default=60.0, ge=0, description="a source's sequence gap is alerted only once it stayed "
        "open this long: a partition's failover delays an event's predecessor for seconds "
        "(producers resend after client_timeout_s); 0 alerts at once"
    )
    views_metrics_port: int | None = Field(
        default=None, description="serve the view consumer's Prometheus metrics on this port"
    )
    alerts_config_file: Path | None = Field(
        default=None,
        description="YAML overriding the alert rules' defaults (service standards, reminders, "
        "roles): see consumers/alerts/config.py",
    )
    alerts_delivery_process: bool = Field(
        default=False,
        description="`emining views run` delivers the alerts (Kafka and push channels) from a "
        "child process of its own, on the second core (consumers/alerts/worker_process.py; on "
        "SQLite the two take turns at the write lock): lower latency near the consumer's limit, "
        "~150 MB more; what the child counts is served on views_metrics_port "
        "(consumers/alerts/relayed_metrics.py); false: in the consumer's own event loop",
    )
    alerts_instance: str = Field(
        default="alerts",
        description="source instance the alerts are signed as (urn:emining:xx:platform:operator/"
        "<instance>); one per process that delivers alerts",
    )
    accounts_url: str | None = Field(
        default=None,
        description="database of people's accounts and sessions (SQLAlchemy URL); default "
        "sqlite in the state dir",
    )
    session_cookie_secure: bool = Field(
        default=True,
        description="mark the session cookie Secure (browsers send it over HTTPS and to "
        "localhost only); turn off only for plain-HTTP access from another host in a lab",
    )
    oidc_config_file: Path | None = Field(
        default=None,
        description="YAML list of identity providers trusted for one organisation each "
        "(issuer, org, audience, roles_claim, algorithms, jwks_uri): see producers/oidc.py",
    )
    webhook_allow_hosts: str = Field(
        default="",
        description="comma-separated hosts (names or IP addresses) webhooks may point to even "
        "though they are internal (loopback, private, link-local); by default only public "
        "addresses are accepted",
    )
    alerts_clock_offset_s: float = Field(
        default=0.0,
        description="shift the alert rules' clock (drills and tests of deadlines); 0 in production",
    )

    @model_validator(mode="after")
    def _one_password(self) -> Settings:
        if self.kafka_password is not None and self.kafka_password_file is not None:
            raise ValueError("set EMINING_KAFKA_PASSWORD or EMINING_KAFKA_PASSWORD_FILE, not both")
        if self.audit_kafka_password is not None and self.audit_kafka_password_file is not None:
            raise ValueError("set EMINING_AUDIT_KAFKA_PASSWORD or"
                             " EMINING_AUDIT_KAFKA_PASSWORD_FILE, not both")
        return self

    @property
    def operator_key_path(self) -> Path:
        return self.operator_key_file or self.state_dir / "keys" / "operator.key"

    @property
    def views_store_url(self) -> str:
        return self.views_url or f"sqlite:///{(self.state_dir / 'views.sqlite').resolve()}"

    @property
    def accounts_store_url(self) -> str:
        return self.accounts_url or (
            f"sqlite+aiosqlite:///{(self.state_dir / 'accounts.sqlite').resolve()}")

    @property
    def chain_dir(self) -> Path:
        """Per-source chain state and outboxes of the publishers run from this machine."""
        return self.state_dir / "chains"

    @property
    def custody_path(self) -> Path:
        """Where custodial keys live: one key file per organisation, mode 0600."""
        return self.custody_dir or self.state_dir / "custody"

    @property
    def api_keys_path(self) -> Path:
        return self.api_keys_file or self.state_dir / "gateway" / "api_keys.json"

    @property
    def gateway_dir(self) -> Path:
        """The gateway's own state: its receipts of accepted event ids."""
        return self.state_dir / "gateway"


def time_bounds(settings: Settings) -> TimeBounds:
    """How far an event's time may lie from its append time, as configured (every reader)."""
    from schemas.timing import TimeBounds  # noqa: PLC0415 - reading settings stays light

    return TimeBounds.of_seconds(settings.time_future_skew_s, settings.time_past_skew_s)
