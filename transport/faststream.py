"""FastStream's Kafka broker, built from a ``KafkaAccess``: the one place ``faststream.kafka``
is imported (``tests/unit/test_import_order.py`` checks it, as for aiokafka).

The caller (the view consumer) adds its subscriber to the broker; ``raw_batch`` and ``no_body``
are the pass-through parser and decoder that hand a batch's records over untouched (FastStream's
own parser decodes headers, and crashes on headers that are not UTF-8 or are ``None``).
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.message import FAKE_CONSUMER
from faststream.kafka.message import KafkaMessage as RawKafkaMessage

from transport.access import KafkaAccess

__all__ = ["KafkaBroker", "KafkaMessage", "make_broker", "no_body", "raw_batch"]


def make_broker(access: KafkaAccess, *, timeout_s: float, logger: Any = None,
                graceful_timeout: float | None = 30.0, **options: Any) -> KafkaBroker:
    """A FastStream ``KafkaBroker`` (not started) for ``access``: its servers as a list
    (FastStream takes one string as one host, so a cluster's ``h1:p1,h2:p2`` is split), its
    security, no topic auto-creation, requests bounded by ``timeout_s``; ``options`` go to
    ``KafkaBroker``."""
    return KafkaBroker(access.servers, security=access.faststream_security(),
                       allow_auto_create_topics=False, logger=logger,
                       graceful_timeout=graceful_timeout,
                       request_timeout_ms=int(timeout_s * 1000), **options)


async def raw_batch(records: tuple[Any, ...]) -> RawKafkaMessage:
    """A batch subscriber's parser: the records, untouched, as the message's ``raw_message``."""
    return RawKafkaMessage(body=b"", raw_message=records, consumer=FAKE_CONSUMER)


async def no_body(_: Any) -> None:
    """A decoder for ``raw_batch``'s messages: there is no body to decode."""
