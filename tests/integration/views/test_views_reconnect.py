"""The view consumer outlives its broker: stopped for half a minute, it comes back by itself."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiokafka.errors import KafkaConnectionError

from consumers import runner
from consumers.config import ViewTopics
from consumers.metrics import VIEW_RECONNECTS
from consumers.runner import run_views_forever
from consumers.store import ViewStore
from consumers.store_read import get_view
from infra import local_kafka
from infra.kafka_admin.topics import apply_topics
from infra.kafka_settings import kafka_access
from schemas.topics import catalogue
from tests.conftest import own_broker
from tests.integration.views import scenario
from tests.integration.views.conftest import PARTITIONS, Bus, caught_up, config_for

pytestmark = pytest.mark.integration


async def test_views_run_rides_through_a_broker_outage_and_catches_up(tmp_path):
    with own_broker(tmp_path / "kafka", what="restartable") as settings:
        kafka = kafka_access(settings)
        await apply_topics(kafka, catalogue(PARTITIONS))
        topics = ViewTopics()
        store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
        config = config_for(kafka, topics, store_url, timeout_s=5.0)
        first, second = scenario.story(0), scenario.story(1)
        async with Bus(kafka, topics, tmp_path / "chains") as bus:
            await bus.registry()
            await bus.rounds([[step] for step in first.steps])
        stop = asyncio.Event()
        consumer = asyncio.create_task(run_views_forever(config, stop))
        try:
            await caught_up(store_url, config)
            local_kafka.down(settings)
            await asyncio.sleep(30)  # the outage the testers saw kill the consumer
            assert not consumer.done(), "the consumer gave up while the broker was down"
            local_kafka.up(settings, owner_pid=os.getpid())
            async with Bus(kafka, topics, tmp_path / "chains") as bus:
                await bus.rounds([[step] for step in second.steps])
            await caught_up(store_url, config, timeout_s=120)
            assert not consumer.done()
        finally:
            stop.set()
            await asyncio.wait_for(consumer, 60)
        store = ViewStore(store_url)
        await store.open()
        try:
            for story in (first, second):
                assert await get_view(store, "projects", scenario.ids_of(story.index)["project"])
        finally:
            await store.close()


async def test_a_consumer_that_loses_the_broker_starts_again_and_a_refused_login_stops_it(
        monkeypatch):
    """Whatever ends a run (the broker gone, an alert worker failing to publish), the
    supervisor starts it again with backoff; a credential the broker refuses is final."""
    calls: list[str] = []
    stop = asyncio.Event()

    async def flaky(config, stop_event, alerts=None, worker_setup=None):
        calls.append("run")
        if len(calls) < 3:
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 9)]")
        stop_event.set()

    monkeypatch.setattr(runner, "run_views", flaky)
    before = VIEW_RECONNECTS._value.get()
    await asyncio.wait_for(runner.run_views_forever(object(), stop), 30)  # type: ignore[arg-type]
    assert calls == ["run", "run", "run"]
    assert VIEW_RECONNECTS._value.get() == before + 2

    async def refused(config, stop_event, alerts=None, worker_setup=None):
        calls.append("refused")
        raise runner.ViewsUnavailableError("the broker refused to authenticate User:x")

    monkeypatch.setattr(runner, "run_views", refused)
    with pytest.raises(runner.ViewsUnavailableError):
        await asyncio.wait_for(runner.run_views_forever(object(), asyncio.Event()), 30)  # type: ignore[arg-type]
    assert calls.count("refused") == 1
