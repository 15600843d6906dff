"""``audit replay`` against the live view consumer: the same log, the same digest, as of then."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka.admin import NewTopic

from consumers.audit.replay import replay
from consumers.config import ViewsConfig, ViewTopics
from consumers.digest import digest
from consumers.store import ViewStore
from tests.integration.kafka_admin import create_topics, delete_topics
from tests.integration.views.conftest import caught_up, running
from tests.unit.audit.scenario import Story

pytestmark = pytest.mark.integration

T1 = datetime(2024, 6, 1, tzinfo=UTC)
"""Steps dated up to T1 are published first, the rest after the live digest is taken."""


@pytest.fixture
async def views_config(kafka_access, audit_topics, parties, tmp_path):
    dlq = audit_topics.projects.replace(".projects", ".dlq")
    await create_topics(kafka_access, [NewTopic(dlq, 1, 1)])
    topics = ViewTopics(projects=audit_topics.projects, approvals=audit_topics.approvals,
                        shipments=audit_topics.shipments,
                        participants=audit_topics.participants, dlq=dlq)
    yield ViewsConfig(kafka=kafka_access, store_url=f"sqlite:///{tmp_path / 'live.db'}",
                      trust_anchor=tuple(parties.trust_anchor), topics=topics,
                      group_id=f"test.audit.{uuid.uuid4().hex[:8]}")
    await delete_topics(kafka_access, [dlq])


async def _live_digest(config: ViewsConfig) -> str:
    await caught_up(config.store_url, config)
    store = ViewStore(config.store_url)
    try:
        await store.open()
        return (await digest(store)).sha256
    finally:
        await store.close()


async def _replay(bus, parties, tmp_path, **options):
    url = f"sqlite:///{tmp_path / f'replay-{uuid.uuid4().hex[:6]}.db'}"
    return await replay(bus.kafka, parties.trust_anchor, url, topics=bus.topics, **options)


async def test_as_of_replays_equal_the_live_view_as_it_was(bus, parties, views_config, tmp_path):
    builder = Story(seed=11)
    for i in range(10):
        builder.project(i)
    steps = sorted(builder.steps, key=lambda s: s.time)
    early = [s for s in steps if s.time <= T1]
    late = [s for s in steps if s.time > T1]
    assert early
    assert late

    async with running(views_config):
        await bus.steps(early)
        live_then = await _live_digest(views_config)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.05)  # every later record is appended strictly after ``moment``
        await bus.steps(late)
        live_now = await _live_digest(views_config)
    assert live_then != live_now

    as_recorded = await _replay(bus, parties, tmp_path, as_of=moment)
    assert as_recorded.digest.sha256 == live_then
    assert as_recorded.rejected == 0
    assert as_recorded.later == len(late)

    by_event_time = await _replay(bus, parties, tmp_path, as_of=T1, include_late=True)
    assert by_event_time.digest.sha256 == live_then
    assert by_event_time.skipped == len(late)

    whole = await _replay(bus, parties, tmp_path)
    assert whole.digest.sha256 == live_now
    again = await _replay(bus, parties, tmp_path)
    assert again.digest.sha256 == whole.digest.sha256
    assert whole.applied == len(steps)

    nothing_recorded_yet = await _replay(bus, parties, tmp_path, as_of=T1)
    assert nothing_recorded_yet.records == 0
    assert nothing_recorded_yet.digest.rows == {"projects": 0, "approvals": 0, "shipments": 0,
                                                "timeline": 0}


async def test_a_subject_replay_holds_that_subject_only(bus, parties, tmp_path):
    builder = Story(seed=3)
    for i in range(4):
        builder.project(i)
    await bus.steps(sorted(builder.steps, key=lambda s: s.time))
    project = builder.steps[0].data.subject
    result = await _replay(bus, parties, tmp_path, subject=project)
    assert result.digest.rows["projects"] == 1
    assert result.digest.rows["approvals"] == result.digest.rows["shipments"] == 0
    mine = sum(1 for s in builder.steps if s.data.subject == project)
    assert result.digest.rows["timeline"] == result.applied == mine
