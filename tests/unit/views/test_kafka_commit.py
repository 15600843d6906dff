"""The view consumer's mirror of its stored offsets into Kafka: owned partitions only, and a
failed commit is logged and counted, never raised (the next batch commits again)."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from consumers.metrics import VIEW_KAFKA_COMMIT_FAILURES
from consumers.runner import commit_to_kafka


class FakeConsumer:
    def __init__(self, owned: set[TopicPartition], fail: BaseException | None = None,
                 hang: bool = False) -> None:
        self.owned, self.fail, self.hang = owned, fail, hang
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.hang:
            await asyncio.sleep(3600)
        if self.fail is not None:
            raise self.fail
        self.commits.append(offsets)


async def test_commits_the_owned_partitions_offsets_only() -> None:
    consumer = FakeConsumer({TopicPartition("a", 0), TopicPartition("a", 1)})
    ok = await commit_to_kafka(consumer, {("a", 0): 12, ("a", 2): 5}, 1.0)
    assert ok
    assert consumer.commits == [{TopicPartition("a", 0): 12}]


async def test_nothing_owned_commits_nothing() -> None:
    consumer = FakeConsumer(set())
    assert await commit_to_kafka(consumer, {("a", 0): 12}, 1.0)
    assert consumer.commits == []


async def test_a_failed_or_hanging_commit_is_counted_not_raised() -> None:
    before = VIEW_KAFKA_COMMIT_FAILURES._value.get()
    owned = {TopicPartition("a", 0)}
    rebalanced = FakeConsumer(owned, fail=CommitFailedError("group rebalanced"))
    assert not await commit_to_kafka(rebalanced, {("a", 0): 3}, 1.0)
    assert not await commit_to_kafka(FakeConsumer(owned, hang=True), {("a", 0): 3}, 0.05)
    assert VIEW_KAFKA_COMMIT_FAILURES._value.get() == before + 2
