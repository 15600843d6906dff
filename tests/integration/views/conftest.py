"""Fixtures for the views against a real broker: topics, a published history, stores, consumers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic

from consumers.access_http import Access, access_dependency
from consumers.config import ViewsConfig, ViewTopics
from consumers.runner import run_views
from consumers.store import ViewStore
from consumers.store_read import offsets
from infra.local_postgres import LocalPostgres, PostgresUnavailableError
from schemas.access import AuthMethod, Principal, UserRole
from tests.integration.kafka_admin import create_topics, delete_topics
from tests.integration.views import scenario
from tests.integration.views.bus import Bus, renames
from transport.access import KafkaAccess
from transport.meta import partitions_of

__all__ = ["Bus", "as_platform", "renames"]


def as_platform() -> Callable[..., Awaitable[Access]]:
    """An access dependency that admits every request as a platform operator (sees all)."""
    registry = scenario.registry()
    operator = Principal(org=scenario.PLATFORM, roles=frozenset({UserRole.OPERATOR}),
                         subject="test-operator", method=AuthMethod.SESSION)

    async def principal_of() -> Principal:
        return operator

    return access_dependency(principal_of, lambda: registry, None)

PARTITIONS = 3


def postgres_required() -> bool:
    """``EMINING_REQUIRE_POSTGRES=1`` (CI): no PostgreSQL fails the run instead of skipping."""
    return os.environ.get("EMINING_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A PostgreSQL server: ``EMINING_TEST_POSTGRES_URL``, else a throwaway local cluster."""
    given = os.environ.get("EMINING_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        cluster = LocalPostgres()
        url = cluster.start()
    except PostgresUnavailableError as exc:
        if postgres_required():
            pytest.fail(f"no PostgreSQL for the views tests: {exc} (EMINING_REQUIRE_POSTGRES=1)",
                        pytrace=False)
        pytest.skip(f"no PostgreSQL for the views tests: {exc}")
    try:
        yield url
    finally:
        cluster.stop()


async def fresh_database(server_url: str) -> str:
    """A new empty database on ``server_url``'s server; its URL."""
    import asyncpg  # type: ignore[import-untyped]  # noqa: PLC0415 - PostgreSQL tests only

    name = f"views_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The contract suite runs every test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'views.sqlite'}"
    return await fresh_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def view_topics(kafka_access: KafkaAccess) -> AsyncIterator[ViewTopics]:
    """Fresh topics for one test: the three shared ones, participants and a DLQ."""
    tag = uuid.uuid4().hex[:10]
    topics = ViewTopics(**{name: f"test.views.{tag}.{name}" for name in (
        "projects", "approvals", "shipments", "participants", "dlq")})
    names = [topics.projects, topics.approvals, topics.shipments, topics.participants, topics.dlq]
    stamped = {"message.timestamp.type": "LogAppendTime"}  # as the catalogue's shared topics
    shared = {topics.projects, topics.approvals, topics.shipments}
    await create_topics(kafka_access, [NewTopic(n, 1 if n == topics.participants else PARTITIONS,
                                                1, topic_configs=stamped if n in shared else {})
                                       for n in names])
    try:
        yield topics
    finally:
        await delete_topics(kafka_access, names)


@pytest.fixture
async def bus(
    kafka_access: KafkaAccess, view_topics: ViewTopics, tmp_path: Path
) -> AsyncIterator[Bus]:
    async with Bus(kafka_access, view_topics, tmp_path / "chains") as connected:
        await connected.registry()
        yield connected


def config_for(kafka: KafkaAccess, topics: ViewTopics, store_url: str, **extra: Any) -> ViewsConfig:
    return ViewsConfig(kafka=kafka, store_url=store_url,
                       trust_anchor=(scenario.key_of(scenario.PLATFORM).public_key,),
                       group_id=f"test.views.{uuid.uuid4().hex[:10]}", topics=topics, **extra)


@contextlib.asynccontextmanager
async def running(config: ViewsConfig) -> AsyncIterator[None]:
    """The view consumer running in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_views(config, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def end_offsets(kafka: KafkaAccess, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(**kafka.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(kafka, t)]
        return {(tp.topic, tp.partition): o for tp, o in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def caught_up(store_url: str, config: ViewsConfig, *, timeout_s: float = 90.0,
                    check: Callable[[], Any] | None = None) -> dict[tuple[str, int], int]:
    """Wait until the store has applied every record of the consumed topics."""
    ends = {k: v for k, v in (await end_offsets(config.kafka,
                                                list(config.topics.consumed()))).items() if v}
    store = ViewStore(store_url)
    try:
        await store.open()
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            stored = await offsets(store)
            if all(stored.get(k, 0) >= v for k, v in ends.items()):
                return stored
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"views not caught up after {timeout_s}s: {stored} vs {ends}")
            await asyncio.sleep(0.2)
    finally:
        await store.close()


async def read_topic(kafka: KafkaAccess, topic: str) -> list[Any]:
    """Every record of ``topic`` from offset 0 to its current end."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
