"""Audit fixtures: a unique topic set per test, the scenario published through the real SDK."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from consumers.audit.records import AuditTopics
from schemas.envelope import Envelope, to_record
from tests.integration.audit.bus import Bus, moved, on_topic
from tests.integration.kafka_admin import create_topics, delete_topics
from tests.unit.audit.parties import Parties
from transport.access import KafkaAccess

__all__ = ["Bus", "inject", "moved", "on_topic"]

SHARED_PARTITIONS = 3


@pytest.fixture
async def audit_topics(kafka_access: KafkaAccess) -> AsyncIterator[AuditTopics]:
    """Four fresh topics playing projects, approvals, shipments and participants."""
    tag = uuid.uuid4().hex[:10]
    topics = AuditTopics(projects=f"test.audit.{tag}.projects",
                         approvals=f"test.audit.{tag}.approvals",
                         shipments=f"test.audit.{tag}.shipments",
                         participants=f"test.audit.{tag}.participants")
    await create_topics(kafka_access, [NewTopic(t, SHARED_PARTITIONS, 1) for t in topics.shared]
                        + [NewTopic(topics.participants, 1, 1)])
    yield topics
    await delete_topics(kafka_access, list(topics.all))


@pytest.fixture(scope="session")
def parties() -> Parties:
    return Parties.generate()


@pytest.fixture
async def bus(kafka_access: KafkaAccess, audit_topics: AuditTopics, parties: Parties,
              tmp_path: Path) -> AsyncIterator[Bus]:
    async with Bus(kafka_access, audit_topics, parties, tmp_path) as the_bus:
        await the_bus.registry()
        yield the_bus


@pytest.fixture
async def raw(kafka_access: KafkaAccess) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer for records the SDK would never write (forgeries, replays)."""
    producer = AIOKafkaProducer(**kafka_access.aiokafka(), acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def inject(producer: AIOKafkaProducer, topic: str, env: Envelope,
                 partition: int | None = None) -> tuple[str, int, int]:
    rec = to_record(env)
    meta = await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers,
                                        partition=partition)
    return meta.topic, meta.partition, meta.offset
