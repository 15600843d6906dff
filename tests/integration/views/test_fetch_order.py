"""``InStep.take`` against a real broker: the view consumer's polls cover every partition, in
time order, and hand over every record once, each partition's in offset order.

aiokafka's own ``getmany(max_records=...)`` empties one partition's fetched data before it
gives a record of the next (this test shows it, so a change of aiokafka's is seen here)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from consumers.fetch_order import InStep
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

CreateTopic = Callable[..., Awaitable[str]]
PARTITIONS = 4
PER_PARTITION = 300


async def _produce(kafka: KafkaAccess, topic: str) -> None:
    """Record i of every partition at time ``T0 + i`` ms: the partitions advance together."""
    producer = AIOKafkaProducer(**kafka.aiokafka(), acks="all")
    await producer.start()
    try:
        for i in range(PER_PARTITION):
            for p in range(PARTITIONS):
                await producer.send(topic, value=f"{p}-{i}".encode(), partition=p,
                                    timestamp_ms=1_700_000_000_000 + i)
        await producer.flush()
    finally:
        await producer.stop()


async def _consumer(kafka: KafkaAccess, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    await consumer.seek_to_beginning()
    return consumer


async def _fetched_everywhere(consumer: AIOKafkaConsumer, topic: str) -> None:
    """Wait until aiokafka has fetched data for every partition (nothing handed over)."""
    for _ in range(100):
        if all(consumer.last_poll_timestamp(TopicPartition(topic, p)) for p in range(PARTITIONS)):
            return
        await asyncio.sleep(0.1)


async def test_polls_cover_every_partition_in_time_order(
    kafka_access: KafkaAccess, create_topic: CreateTopic,
) -> None:
    topic = await create_topic(partitions=PARTITIONS)
    await _produce(kafka_access, topic)

    plain = await _consumer(kafka_access, topic)
    try:
        await _fetched_everywhere(plain, topic)
        first = await plain.getmany(timeout_ms=5000, max_records=200)
        assert len(first) == 1  # aiokafka alone: one partition's records only
    finally:
        await plain.stop()

    consumer = await _consumer(kafka_access, topic)
    try:
        await _fetched_everywhere(consumer, topic)
        got: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}
        batches, step = 0, InStep()
        while sum(map(len, got.values())) < PARTITIONS * PER_PARTITION:
            batch = await step.take(consumer.getmany, consumer.assignment(),
                                    timeout_ms=5000, max_records=200)
            assert batch, "the records stopped coming"
            assert sum(map(len, batch.values())) <= 200
            if batches == 0:
                assert {tp.partition for tp in batch} == set(range(PARTITIONS))
                stamps = [r.timestamp for records in batch.values() for r in records]
                # in step: the batch's records span a few ms of each partition, not 200
                assert max(stamps) - min(stamps) < 100
            for tp, records in batch.items():
                got[tp.partition] += [r.offset for r in records]
            batches += 1
        # every record once, each partition's in offset order
        assert got == {p: list(range(PER_PARTITION)) for p in range(PARTITIONS)}
    finally:
        await consumer.stop()
