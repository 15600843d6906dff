"""``transport.read``: reading a topic to the end offsets taken at the start, and following.

Against the session broker, on fresh topics: what is read is exactly what was on the log when
the read began, in partition order, from a given start, and nothing is lost to a kept consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import aclosing

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from transport.access import KafkaAccess
from transport.errors import MissingTopicError
from transport.kafka import Record
from transport.read import assign_at, drain, ends_of, follow, opened, read_to_end

pytestmark = pytest.mark.integration

CreateTopic = Callable[..., Awaitable[str]]


async def _produce(kafka: KafkaAccess, topic: str, values: list[tuple[int, bytes]]) -> None:
    producer = AIOKafkaProducer(**kafka.aiokafka(), acks="all")
    await producer.start()
    try:
        for partition, value in values:
            await producer.send_and_wait(topic, value=value, partition=partition)
    finally:
        await producer.stop()


def _values(records: list[Record]) -> list[tuple[int, int, bytes]]:
    return [(r.partition, r.offset, r.value) for r in records]


async def test_reads_exactly_what_was_there_when_it_began(
    kafka_access: KafkaAccess, create_topic: CreateTopic,
) -> None:
    topic = await create_topic(partitions=3)
    before = [(p, f"{p}-{i}".encode()) for p in (0, 2) for i in range(4)]
    await _produce(kafka_access, topic, before)

    got: list[Record] = []
    async with aclosing(read_to_end(kafka_access, [topic], timeout_s=10)) as batches:
        async for batch in batches:
            if not got:  # appended after the read began: not part of this read
                await _produce(kafka_access, topic, [(0, b"late"), (2, b"late")])
            got.extend(batch)

    assert sorted(_values(got)) == [(p, i, f"{p}-{i}".encode()) for p in (0, 2) for i in range(4)]
    ends = await ends_of(kafka_access, [topic], timeout_s=10)
    assert ends == {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 0,
                    TopicPartition(topic, 2): 5}


async def test_from_a_given_offset(kafka_access: KafkaAccess, create_topic: CreateTopic) -> None:
    topic = await create_topic(partitions=2)
    await _produce(kafka_access, topic, [(0, f"a{i}".encode()) for i in range(5)]
                   + [(1, f"b{i}".encode()) for i in range(3)])
    start = {TopicPartition(topic, 0): 3}  # partition 1: from its beginning
    got = [r async for batch in read_to_end(kafka_access, [topic], start=start, timeout_s=10)
           for r in batch]
    assert sorted(_values(got)) == [(0, 3, b"a3"), (0, 4, b"a4"),
                                    (1, 0, b"b0"), (1, 1, b"b1"), (1, 2, b"b2")]


async def test_empty_and_missing_topics(
    kafka_access: KafkaAccess, create_topic: CreateTopic,
) -> None:
    empty = await create_topic(partitions=2)
    missing = f"{empty}.absent"
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert [b async for b in read_to_end(kafka_access, [empty], timeout_s=10)] == []
    assert loop.time() - began < 5  # nothing to wait for: no fetch at all

    with pytest.raises(MissingTopicError, match=f"topic {missing} does not exist"):
        async for _ in read_to_end(kafka_access, [empty, missing], timeout_s=10):
            pass
    assert [b async for b in read_to_end(kafka_access, [missing], timeout_s=10,
                                         missing="skip")] == []
    assert await ends_of(kafka_access, [missing], timeout_s=10, missing="skip") == {}


async def test_a_kept_consumer_loses_nothing_between_reads(
    kafka_access: KafkaAccess, create_topic: CreateTopic,
) -> None:
    """A record fetched past the end of one read is the next read's first."""
    topic = await create_topic(partitions=1)
    tp = TopicPartition(topic, 0)
    await _produce(kafka_access, topic, [(0, b"one"), (0, b"two")])
    async with opened(kafka_access, 10) as consumer:
        ends = await assign_at(consumer, [tp], timeout_s=10)
        await _produce(kafka_access, topic, [(0, b"three")])  # fetched with the first two
        first = [r async for batch in drain(consumer, ends, timeout_s=10) for r in batch]
        assert _values(first) == [(0, 0, b"one"), (0, 1, b"two")]
        assert await consumer.position(tp) == 2
        second = [r async for batch in drain(consumer, {tp: 3}, timeout_s=10) for r in batch]
        assert _values(second) == [(0, 2, b"three")]


async def test_follow_from_now_until_stopped(
    kafka_access: KafkaAccess, create_topic: CreateTopic,
) -> None:
    topic = await create_topic(partitions=2)
    await _produce(kafka_access, topic, [(0, b"old")])
    stop = asyncio.Event()
    got: list[Record] = []

    async def run() -> None:
        async for batch in follow(kafka_access, [topic], stop=stop, timeout_s=10):
            got.extend(batch)
            if len(got) >= 2:
                stop.set()

    task = asyncio.create_task(run())
    await asyncio.sleep(3)  # the follower has taken the end by now
    await _produce(kafka_access, topic, [(1, b"new-1"), (0, b"new-0")])
    await asyncio.wait_for(task, 20)
    assert sorted(_values(got)) == [(0, 1, b"new-0"), (1, 0, b"new-1")]

    got.clear()
    stop.clear()
    async for batch in follow(kafka_access, [topic], from_beginning=True, until_end=True,
                              timeout_s=10):
        got.extend(batch)
    assert sorted(_values(got)) == [(0, 0, b"old"), (0, 1, b"new-0"), (1, 0, b"new-1")]
