"""The names of the Kafka client library (aiokafka) the rest of the bus uses, in one place.

Only ``transport`` imports aiokafka (``tests/unit/test_import_order.py`` checks it): partitions,
records and the broker's errors are named from here, clients are built by ``transport.clients``,
``transport.read`` and ``transport.sender``.
"""

from __future__ import annotations

from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    for_code,
)
from aiokafka.structs import ConsumerRecord, RecordMetadata

__all__ = [
    "ConfigResource",
    "ConfigResourceType",
    "Consumer",
    "ConsumerRebalanceListener",
    "ConsumerRecord",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaTimeoutError",
    "NewPartitions",
    "NewTopic",
    "Producer",
    "Record",
    "RecordMetadata",
    "TopicPartition",
    "for_code",
]

Record: TypeAlias = ConsumerRecord[bytes, bytes]
"""A record as aiokafka hands it over (``topic``, ``partition``, ``offset``, ``key``, ``value``,
``headers``, ``timestamp``)."""

Consumer: TypeAlias = AIOKafkaConsumer
"""A consumer as ``transport`` builds it (type annotations only: build one with
``transport.clients.make_consumer`` or ``transport.read.opened``)."""

Producer: TypeAlias = AIOKafkaProducer
"""A producer as ``transport`` builds it (``transport.clients.make_producer``)."""
