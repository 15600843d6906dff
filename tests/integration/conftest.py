"""Per-test Kafka fixtures: unique topic and group names, topic creation, the catalogue."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.kafka_admin.topics import apply_topics
from schemas.topics import TopicSpec, catalogue
from tests.kafka_support import settings_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from pathlib import Path

    from infra.kafka_admin.topics import TopicChange
    from infra.settings import Settings
    from transport.access import KafkaAccess

CATALOGUE_PARTITIONS = 6


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", text).strip("-")[:60]


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``unique_name("topic")`` → ``test.topic.<test name>.<uuid>``: no clash between tests."""

    def make(kind: str) -> str:
        return f"test.{kind}.{_slug(request.node.name)}.{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def topic_name(unique_name: Callable[[str], str]) -> str:
    return unique_name("topic")


@pytest.fixture
def group_id(unique_name: Callable[[str], str]) -> str:
    return unique_name("group")


@pytest.fixture
def kafka_settings(kafka_access: KafkaAccess, tmp_path: Path) -> Settings:
    """Settings pointing every client at the test broker as its admin (state in a tmp dir)."""
    return settings_for(kafka_access, state_dir=tmp_path / "state")


@pytest.fixture
async def create_topic(
    kafka_access: KafkaAccess, unique_name: Callable[[str], str]
) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``await create_topic(partitions=3)`` → the name of a fresh topic, deleted afterwards."""
    admin = AIOKafkaAdminClient(**kafka_access.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    created: list[str] = []

    async def create(partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = unique_name("topic")
        response = await admin.create_topics([NewTopic(name, partitions, 1,
                                                       topic_configs=config or {})])
        errors = [e for e in response.to_object()["topic_errors"] if e["error_code"]]
        assert not errors, errors
        created.append(name)
        return name

    try:
        yield create
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture(scope="session")
def catalogue_specs() -> tuple[TopicSpec, ...]:
    return catalogue(CATALOGUE_PARTITIONS)


@pytest.fixture(scope="session")
async def catalogue_applied(
    kafka_access: KafkaAccess, catalogue_specs: tuple[TopicSpec, ...]
) -> list[TopicChange]:
    """The five catalogue topics exist on the session broker (applied once per session)."""
    return await apply_topics(kafka_access, catalogue_specs, timeout_s=15.0)
