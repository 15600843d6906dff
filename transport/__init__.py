"""Kafka access for the whole bus, at the bottom of the import order (only ``schemas`` below).

Rooms: ``access`` (``KafkaAccess``: where the broker is and who we are to it; refusal messages),
``errors`` (every broker error), ``kafka`` (the aiokafka names the bus uses: only ``transport``
imports aiokafka), ``meta`` (partitions, connection diagnosis), ``read`` (``read_to_end``,
``follow``, ``drain``: every "read a log by offsets" loop), ``sender`` (the idempotent
``RecordSender``), ``clients`` (plain producers/consumers/admin clients and client config files),
``faststream`` (FastStream's ``KafkaBroker`` built from a ``KafkaAccess``: only ``transport``
imports ``faststream.kafka``).

The names below can be imported from ``transport`` itself; each is loaded on first use, so
importing the package (the CLI's errors do) loads no Kafka client library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transport.access import KafkaAccess, diagnose, login_error, refusal
    from transport.clients import (
        admin_client,
        client_properties,
        librdkafka_properties,
        make_consumer,
        make_producer,
        publish,
        started,
    )
    from transport.errors import (
        BrokerError,
        BrokerUnavailableError,
        BrokerUnreachableError,
        MissingCredentialError,
        MissingTopicError,
        PublishError,
        PublishTimeoutError,
    )
    from transport.kafka import KafkaError, Record, TopicPartition
    from transport.meta import connection_problem, key_partition, partition_counts, partitions_of
    from transport.read import drain, end_offsets, ends_of, follow, opened, read_to_end
    from transport.sender import Ack, RecordSender

_WHERE: dict[str, str] = {
    **dict.fromkeys(("KafkaAccess", "diagnose", "login_error", "refusal"), "access"),
    **dict.fromkeys(("admin_client", "client_properties", "librdkafka_properties",
                     "make_consumer", "make_producer", "publish", "started"), "clients"),
    **dict.fromkeys(("BrokerError", "BrokerUnavailableError", "BrokerUnreachableError",
                     "MissingCredentialError", "MissingTopicError", "PublishError",
                     "PublishTimeoutError"), "errors"),
    **dict.fromkeys(("KafkaError", "Record", "TopicPartition"), "kafka"),
    **dict.fromkeys(("connection_problem", "key_partition", "partition_counts",
                     "partitions_of"), "meta"),
    **dict.fromkeys(("drain", "end_offsets", "ends_of", "follow", "opened", "read_to_end"),
                    "read"),
    **dict.fromkeys(("Ack", "RecordSender"), "sender"),
}

__all__ = [
    "Ack",
    "BrokerError",
    "BrokerUnavailableError",
    "BrokerUnreachableError",
    "KafkaAccess",
    "KafkaError",
    "MissingCredentialError",
    "MissingTopicError",
    "PublishError",
    "PublishTimeoutError",
    "Record",
    "RecordSender",
    "TopicPartition",
    "admin_client",
    "client_properties",
    "connection_problem",
    "diagnose",
    "drain",
    "end_offsets",
    "ends_of",
    "follow",
    "key_partition",
    "librdkafka_properties",
    "login_error",
    "make_consumer",
    "make_producer",
    "opened",
    "partition_counts",
    "partitions_of",
    "publish",
    "read_to_end",
    "refusal",
    "started",
]


def __getattr__(name: str) -> Any:
    """``transport.X``: the public name ``X`` from the module that holds it (loaded now)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'transport' has no attribute {name!r}")
    return getattr(importlib.import_module(f"transport.{module}"), name)
