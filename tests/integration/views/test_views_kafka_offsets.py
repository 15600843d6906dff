"""The view consumer mirrors its stored offsets into its Kafka group, for the stock lag tools,
while the views store stays the source of truth: a restart resumes from the store even when the
group's committed offsets say otherwise (the consumer seeks to the store's offsets on
assignment and commits them there, so either alone would do; the test asks for the effect)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.config import ViewsConfig, ViewTopics
from consumers.store import ViewStore
from consumers.store_read import get_view, offsets
from producers.connection import KafkaAccess
from tests.integration.kafka_admin import kafka_admin
from tests.integration.views import scenario
from tests.integration.views.conftest import (
    Bus,
    caught_up,
    config_for,
    end_offsets,
    running,
)

pytestmark = pytest.mark.integration


async def group_offsets(kafka: KafkaAccess, group: str) -> dict[tuple[str, int], int]:
    async with kafka_admin(kafka) as admin:
        found = await admin.list_consumer_group_offsets(group)
    return {(tp.topic, tp.partition): meta.offset for tp, meta in found.items()}


async def group_equals(kafka: KafkaAccess, group: str, want: dict[tuple[str, int], int],
                       timeout_s: float = 30.0) -> dict[tuple[str, int], int]:
    """The group's committed offsets once they equal ``want`` (the last commit follows the
    store's transaction by a round trip), else what they were at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        seen = await group_offsets(kafka, group)
        if seen == want or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.3)


async def store_offsets(store_url: str) -> dict[tuple[str, int], int]:
    store = ViewStore(store_url)
    await store.open()
    try:
        return await offsets(store)
    finally:
        await store.close()


async def forge_group_offsets(config: ViewsConfig, to: dict[tuple[str, int], int]) -> None:
    """Commit ``to`` for the views' group from outside (the consumer being stopped)."""
    consumer = AIOKafkaConsumer(**config.kafka.aiokafka(), group_id=config.group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = {TopicPartition(*k): v for k, v in to.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


async def test_the_group_commits_the_stored_offsets_and_a_restart_resumes_from_the_store(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    config = config_for(kafka_access, view_topics, store_url, batch_size=7)
    first, second = scenario.story(0), scenario.story(1)
    await bus.rounds([[step] for step in first.steps])
    ends = await end_offsets(kafka_access, list(view_topics.consumed()))
    assert sum(ends.values()) == len(first.steps)

    async with running(config):
        stored = await caught_up(store_url, config)
        # every assigned partition: those with records at their end, the empty ones at 0
        assert stored == ends
        assert 0 in stored.values()
        assert len(stored) == 3 * 3
        assert await group_equals(kafka_access, config.group_id, stored) == stored

    # the group's offsets claim everything was applied, the store knows better
    await bus.rounds([[step] for step in second.steps])
    later = await end_offsets(kafka_access, list(view_topics.consumed()))
    assert later != ends
    await forge_group_offsets(config, later)
    assert await group_offsets(kafka_access, config.group_id) == later
    assert await store_offsets(store_url) == ends

    async with running(config):
        stored = await caught_up(store_url, config)
        assert stored == later
        assert await group_equals(kafka_access, config.group_id, stored) == stored
    store = ViewStore(store_url)
    await store.open()
    try:
        for story in (first, second):
            assert await get_view(store, "projects", scenario.ids_of(story.index)["project"])
    finally:
        await store.close()
