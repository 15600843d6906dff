"""Where the broker is, and Kafka clients configured for no loss and bounded waits."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from infra.local_kafka.access import PROTOCOLS, secret, settings_access
from infra.local_kafka.errors import BrokerError, BrokerUnreachableError, MissingCredentialError
from producers.connection import KafkaAccess

from . import local_kafka

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .settings import Settings

__all__ = [
    "PROTOCOLS",
    "BrokerUnreachableError",
    "MissingCredentialError",
    "NoBrokerError",
    "PublishError",
    "PublishTimeoutError",
    "bootstrap_servers",
    "kafka_access",
    "make_consumer",
    "make_producer",
    "publish",
    "started",
]


log = structlog.get_logger("infra.kafka")


class NoBrokerError(BrokerError):
    """Neither ``EMINING_KAFKA_BOOTSTRAP`` nor a running local broker says where Kafka is."""


class PublishError(BrokerError):
    """The broker refused a record (too large, unknown topic, not authorised...)."""


class PublishTimeoutError(PublishError):
    """A record was not acknowledged by the broker within ``client_timeout_s``."""


def bootstrap_servers(settings: Settings) -> str:
    """``EMINING_KAFKA_BOOTSTRAP`` if set, else the running local broker's address."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    found = local_kafka.status(settings)
    if found.running and found.bootstrap is not None:
        return found.bootstrap
    raise NoBrokerError(
        f"no broker: run `emining kafka up` or set EMINING_KAFKA_BOOTSTRAP"
        f" (no local broker is running in {local_kafka.Layout.of(settings).root})"
    )


def audit_access(settings: Settings, serving: KafkaAccess) -> KafkaAccess | None:
    """The principal ``emining serve``'s audit pages read the whole log as: the configured
    ``EMINING_AUDIT_KAFKA_*`` credential, else ``serving`` itself when it may read everything (no
    authentication, or the local broker's admin); ``None``: the pages point to the CLI."""
    username = settings.audit_kafka_username
    if username:
        password = secret(settings.audit_kafka_password, settings.audit_kafka_password_file,
                           "EMINING_AUDIT_KAFKA_PASSWORD_FILE")
        if password is None:
            raise MissingCredentialError(
                "EMINING_AUDIT_KAFKA_USERNAME is set without EMINING_AUDIT_KAFKA_PASSWORD (or"
                " EMINING_AUDIT_KAFKA_PASSWORD_FILE)")
        return serving.as_user(username, password)
    if not serving.sasl or (not settings.kafka_bootstrap
                            and serving.username == local_kafka.ADMIN):
        return serving
    return None


def kafka_access(settings: Settings) -> KafkaAccess:
    """The broker and the principal this process acts as, from ``EMINING_KAFKA_*``.

    Against the project's local broker, no username means its admin (the operator on their
    own machine); against an external cluster a credential must be given.
    """
    bootstrap = bootstrap_servers(settings)
    if settings.kafka_bootstrap:
        return settings_access(settings, bootstrap)
    return settings_access(
        settings, bootstrap,
        local_ca=lambda: local_kafka.Layout.of(settings).tls_dir / "ca.pem",
        local_admin=lambda: (local_kafka.ADMIN, local_kafka.admin_password(settings)))


def _timeout_ms(settings: Settings) -> int:
    return int(settings.client_timeout_s * 1000)


def make_producer(settings: Settings, access: KafkaAccess | None = None, **overrides: Any) -> Any:
    """An idempotent, ``acks=all`` producer whose sends fail within ``client_timeout_s``.

    Not started: use ``async with started(producer)``. aiokafka has no separate delivery
    timeout; ``request_timeout_ms`` also expires batches that wait for a missing leader.
    """
    options: dict[str, Any] = {
        **(access or kafka_access(settings)).aiokafka(),
        "client_id": "emining-producer",
        "enable_idempotence": True,
        "acks": "all",
        "request_timeout_ms": _timeout_ms(settings),
        "linger_ms": 5,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: Settings,
    *topics: str,
    group_id: str | None,
    access: KafkaAccess | None = None,
    **overrides: Any,
) -> Any:
    """A consumer that reads from the beginning and commits only when told to.

    Not started: use ``async with started(consumer)``.
    """
    options: dict[str, Any] = {
        **(access or kafka_access(settings)).aiokafka(),
        "client_id": "emining-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": max(_timeout_ms(settings), 30_000),
        "isolation_level": "read_committed",
    }
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


@asynccontextmanager
async def started(
    client: Any, timeout_s: float = 15.0, *, access: KafkaAccess | None = None
) -> AsyncIterator[Any]:
    """Start an aiokafka producer or consumer, stop it on exit; unreachable is one clear error.

    A failed login or TLS handshake, which aiokafka reports as "Unable to bootstrap", is named
    as such (``access``: the client's; else read back from a SASL_PLAINTEXT client).
    """
    from producers.kafka_meta import connection_problem  # noqa: PLC0415 - failure path only

    try:
        async with asyncio.timeout(timeout_s):
            await client.start()
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        await client.stop()
        if access is None:
            inner = getattr(client, "client", None) or getattr(client, "_client", None)
            user = getattr(inner, "_sasl_plain_username", None)
            secret = getattr(inner, "_sasl_plain_password", None)
            if (getattr(inner, "_security_protocol", None) == "SASL_PLAINTEXT"
                    and isinstance(user, str) and isinstance(secret, str)):
                access = KafkaAccess(
                    str(getattr(inner, "_bootstrap_servers", "")), "SASL_PLAINTEXT", user,
                    secret, mechanism=str(getattr(inner, "_sasl_mechanism", "SCRAM-SHA-512")),
                )
        if isinstance(exc, KafkaConnectionError) and access is not None and (
            reason := await connection_problem(access, timeout_s)
        ):
            raise BrokerUnreachableError(reason) from exc
        raise BrokerUnreachableError(
            f"no Kafka broker answered (waited up to {timeout_s:.0f}s;"
            f" {exc or type(exc).__name__}): run `emining kafka up`, or check"
            " EMINING_KAFKA_BOOTSTRAP"
        ) from exc
    try:
        yield client
    finally:
        await client.stop()


async def publish(
    producer: Any,
    topic: str,
    value: bytes,
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    timeout_s: float = 15.0,
) -> Any:
    """Send one record and wait for the broker's ack; returns aiokafka's ``RecordMetadata``."""
    try:
        async with asyncio.timeout(timeout_s):
            return await producer.send_and_wait(topic, value, key=key, headers=headers)
    except (TimeoutError, KafkaTimeoutError) as exc:
        raise PublishTimeoutError(
            f"record to {topic} was not acknowledged within {timeout_s:.0f}s:"
            " is the broker up and the topic created?"
        ) from exc
    except KafkaError as exc:
        raise PublishError(f"the broker refused a record to {topic}: {exc}") from exc


def _jaas_quoted(value: str) -> str:
    """A JAAS option value in double quotes (``\\`` and ``"`` escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _properties_value(value: str) -> str:
    r"""A ``.properties`` value: ``\`` doubled, line breaks escaped (the rest is literal)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def client_properties(access: KafkaAccess) -> str:
    """A Kafka client properties file for ``access``: what the Java tools take as
    ``--command-config``/``--consumer.config``."""
    lines = [(f"# Kafka client configuration for {access.principal} (written by emining kafka "
             "client-config; it holds a password: keep it 0600)"),
             f"bootstrap.servers={access.bootstrap}",
             f"security.protocol={access.protocol}"]
    if access.sasl:
        assert access.username is not None
        assert access.password is not None
        jaas = ("org.apache.kafka.common.security.scram.ScramLoginModule required username="
                f"{_jaas_quoted(access.username)} password={_jaas_quoted(access.password)};")
        lines += [f"sasl.mechanism={access.mechanism}",
                  f"sasl.jaas.config={_properties_value(jaas)}"]
    if access.tls and access.ca_file is not None:
        lines += ["ssl.truststore.type=PEM",
                  f"ssl.truststore.location={_properties_value(str(access.ca_file))}"]
    return "\n".join(lines) + "\n"


def librdkafka_properties(access: KafkaAccess) -> str:
    """The same for librdkafka clients (``kcat -F``, confluent-kafka): its own key names."""
    lines = [(f"# librdkafka configuration for {access.principal} (written by emining kafka "
             "client-config --for librdkafka; it holds a password: keep it 0600)")]
    lines += [f"{key}={value}" for key, value in access.librdkafka().items()]
    return "\n".join(lines) + "\n"
