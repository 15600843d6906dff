"""Fixtures for publishing tests: unique topics, keys, and a registry built in memory."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic

from schemas.base import EventData
from schemas.catalogue import event_types
from schemas.participants import AuthorityGrantSpec, Organisation, RegistrySeed
from schemas.registry import Registry, seed_events
from schemas.signing import PrivateKey
from tests.integration.kafka_admin import create_topics
from transport.access import KafkaAccess
from transport.meta import partitions_of

MakeTopic = Callable[[int], Awaitable[str]]


@pytest.fixture
def make_topic(kafka_access: KafkaAccess) -> MakeTopic:
    async def create(partitions: int = 3) -> str:
        name = f"test.pub.{uuid.uuid4().hex[:12]}"
        await create_topics(kafka_access, [NewTopic(name, partitions, 1)])
        return name

    return create


def on_topic(cls: type[EventData], topic: str) -> type[EventData]:
    """``cls`` publishing to ``topic``: isolates a test without changing the contract."""
    return type(f"{cls.__name__}OnTestTopic", (cls,), {"TOPIC": topic})


async def read_all(kafka: KafkaAccess, topic: str) -> list:
    """Every record of ``topic`` from offset 0 to its current end."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = await partitions_of(kafka, topic)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                records.extend(batch)
                if batch[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def end_offsets(kafka: KafkaAccess, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka())
    await consumer.start()
    try:
        parts = await partitions_of(kafka, topic)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


def registry_with(key: PrivateKey, **grant: object) -> Registry:
    """A registry where ``key.org`` is an agency holding one grant (``event_types`` etc.)."""
    org = Organisation.model_validate({
        "id": key.org, "names": {"en": "Test agency"}, "side": "PK", "role": "agency",
        "authorities": [AuthorityGrantSpec.model_validate({"id": "test", **grant})],
    })
    seed = RegistrySeed(platform="urn:emining:xx:platform:operator", organisations=(org,))
    registry = Registry()
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for event in seed_events(seed, {key.org: key.public_key}, start):
        registry.apply(event, start)
    return registry


def example_of(type_name: str) -> EventData:
    cls = next(c for c in event_types().values() if type_name == c.TYPE)
    return cls.model_validate(cls.EXAMPLE)
