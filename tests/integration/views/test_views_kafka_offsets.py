"""The view consumer mirrors its stored offsets into its Kafka group, for the stock lag tools,
while the views store stays the source of truth: a restart resumes from the store even when the
group's committed offsets say otherwise (the consumer seeks to the store's offsets on
assignment and commits them there, so either alone would do; the test asks for the effect)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.config import ViewsConfig, ViewTopics
from consumers.store import ViewStore
from consumers.store_read import get_view, offsets
from tests.integration.kafka_admin import kafka_admin
from tests.integration.views import scenario
from tests.integration.views.conftest import (
    Bus,
    caught_up,
    config_for,
    end_offsets,
    running,
)
from tests.kafka_support import access_env
from transport.access import KafkaAccess

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


ROOT = Path(__file__).resolve().parents[3]


async def emining(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The ``emining`` command in a subprocess (Kafka's tools write to the real stdout)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from infra.cli import main; main()", *args], cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300, check=False)


async def test_the_stock_kafka_tools_see_the_views_group_with_the_written_client_config(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    """`emining kafka client-config` writes a file Kafka's own CLI tools log in with (SCRAM),
    and kafka-consumer-groups --describe shows the views' offsets and lag as the store has
    them; kafka-console-consumer reads the shared topic with it."""
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    config = config_for(kafka_access, view_topics, store_url)

    await bus.rounds([[step] for step in scenario.story(0).steps])
    async with running(config):
        stored = await caught_up(store_url, config)
        assert await group_equals(kafka_access, config.group_id, stored) == stored
    env = {**access_env(kafka_access), "EMINING_STATE_DIR": str(tmp_path / "state")}
    props = tmp_path / "client.properties"
    wrote = await emining("kafka", "client-config", "--out", str(props), env=env)
    assert wrote.returncode == 0, wrote.stderr
    assert stat.S_IMODE(props.stat().st_mode) == 0o600
    text = props.read_text()
    assert f"bootstrap.servers={kafka_access.bootstrap}" in text
    if kafka_access.sasl:
        assert "sasl.mechanism=SCRAM-SHA-512" in text
        assert f'username="{kafka_access.username}"' in text

    described = await emining("kafka", "tool", "kafka-consumer-groups", "--bootstrap-server",
                        kafka_access.bootstrap, "--command-config", str(props), "--describe",
                        "--group", config.group_id, env=env)
    assert described.returncode == 0, described.stderr
    rows = [line.split() for line in described.stdout.splitlines()]
    header = next(r for r in rows if r[:2] == ["GROUP", "TOPIC"])
    table = {(r[1], int(r[2])): dict(zip(header, r, strict=False)) for r in rows
             if r and r[0] == config.group_id}
    assert set(table) == set(stored)
    for tp, offset in stored.items():
        assert int(table[tp]["CURRENT-OFFSET"]) == offset
        assert table[tp]["LAG"] == "0"

    # the console consumer logs in with the same file and reads the shared topic
    topic, partition = max(stored, key=lambda tp: stored[tp])
    consumed = await emining("kafka", "tool", "kafka-console-consumer", "--bootstrap-server",
                       kafka_access.bootstrap, "--consumer.config", str(props), "--topic", topic,
                       "--partition", str(partition), "--offset", "earliest",
                       "--max-messages", str(stored[(topic, partition)]),
                       "--property", "print.key=true", env=env)
    assert consumed.returncode == 0, consumed.stderr
    lines = consumed.stdout.splitlines()
    assert len(lines) == stored[(topic, partition)]
    assert all(line.split("\t", 1)[1].startswith("{") for line in lines)
