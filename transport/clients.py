"""Kafka clients configured for no loss and bounded waits, and client configuration files.

Everything here takes a ``KafkaAccess`` (where the broker is, who we are to it) and a timeout;
``infra.kafka_settings`` makes the access from the settings.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from transport.access import KafkaAccess
from transport.errors import BrokerUnreachableError, PublishError, PublishTimeoutError
from transport.meta import connection_problem

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "admin_client",
    "client_properties",
    "librdkafka_properties",
    "make_consumer",
    "make_producer",
    "publish",
    "started",
]


def make_producer(access: KafkaAccess, timeout_s: float, **overrides: Any) -> Any:
    """An idempotent, ``acks=all`` producer whose sends fail within ``timeout_s``.

    Not started: use ``async with started(producer)``. aiokafka has no separate delivery
    timeout; ``request_timeout_ms`` also expires batches that wait for a missing leader.
    """
    options: dict[str, Any] = {
        **access.aiokafka(),
        "client_id": "emining-producer",
        "enable_idempotence": True,
        "acks": "all",
        "request_timeout_ms": int(timeout_s * 1000),
        "linger_ms": 5,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    access: KafkaAccess,
    timeout_s: float,
    *topics: str,
    group_id: str | None,
    **overrides: Any,
) -> Any:
    """A consumer that reads from the beginning and commits only when told to.

    Not started: use ``async with started(consumer)``. Its requests wait ``timeout_s``, at
    least 30 s (a group join can take that long).
    """
    options: dict[str, Any] = {
        **access.aiokafka(),
        "client_id": "emining-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": max(int(timeout_s * 1000), 30_000),
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


@asynccontextmanager
async def admin_client(kafka: KafkaAccess, timeout_s: float) -> AsyncIterator[Any]:
    """A started ``AIOKafkaAdminClient``; an unreachable broker becomes one clear error.

    aiokafka reports a refused SASL login as a plain connection failure: the failure path asks
    ``connection_problem`` why, so a wrong credential is named as such.
    """
    client = AIOKafkaAdminClient(
        **kafka.aiokafka(),
        client_id="emining-admin",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await client.start()
        except (KafkaConnectionError, TimeoutError, OSError) as exc:
            problem = await connection_problem(kafka)
            raise BrokerUnreachableError(
                problem
                or f"no Kafka broker answers at {kafka.bootstrap} (waited up to"
                f" {timeout_s:.0f}s): run `emining kafka up`, or check EMINING_KAFKA_BOOTSTRAP"
            ) from exc
        yield client
    finally:
        await client.close()


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
