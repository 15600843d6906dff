"""Where the broker is, and Kafka clients configured for no loss and bounded waits."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from . import local_kafka
from .local_kafka import BrokerError, BrokerUnreachableError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from .settings import Settings

__all__ = [
    "BrokerUnreachableError",
    "NoBrokerError",
    "PublishError",
    "PublishTimeoutError",
    "bootstrap_servers",
    "make_consumer",
    "make_producer",
    "publish",
    "started",
]


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


def _timeout_ms(settings: Settings) -> int:
    return int(settings.client_timeout_s * 1000)


def make_producer(settings: Settings, bootstrap: str | None = None, **overrides: Any) -> Any:
    """An idempotent, ``acks=all`` producer whose sends fail within ``client_timeout_s``.

    Not started: use ``async with started(producer)``. aiokafka has no separate delivery
    timeout; ``request_timeout_ms`` also expires batches that wait for a missing leader.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap or bootstrap_servers(settings),
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
    bootstrap: str | None = None,
    **overrides: Any,
) -> Any:
    """A consumer that reads from the beginning and commits only when told to.

    Not started: use ``async with started(consumer)``.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap or bootstrap_servers(settings),
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
async def started(client: Any, timeout_s: float = 15.0) -> AsyncIterator[Any]:
    """Start an aiokafka producer or consumer, stop it on exit; unreachable is one clear error."""
    try:
        async with asyncio.timeout(timeout_s):
            await client.start()
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        await client.stop()
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
