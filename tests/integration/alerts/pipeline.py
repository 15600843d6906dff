"""The view consumer with the alerts plugin, on a test's topics: run it, publish, collect alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from consumers.alerts import tables
from consumers.alerts.clock import Clock
from consumers.alerts.config import AlertConfig
from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.plugin import AlertsPlugin, Workers
from consumers.alerts.reader import AlertVerifier
from consumers.alerts.store import AlertStore
from consumers.alerts.worker_process import in_own_process
from consumers.config import ViewsConfig, ViewTopics
from consumers.runner import run_views
from consumers.store import ViewStore
from producers.publisher import Draft
from schemas.alerts import AlertRaised
from schemas.base import EventData
from schemas.topics import alerts_topic
from tests.integration.alerts.conftest import ensure
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from tests.integration.views.conftest import config_for
from transport.access import KafkaAccess
from transport.meta import partitions_of

CONFIG = AlertConfig(customs=(scenario.CUSTOMS,), facilitation=(), border=())
PLATFORM_KEY = scenario.key_of(scenario.PLATFORM)
VERIFIER = AlertVerifier([PLATFORM_KEY.public_key], scenario.PLATFORM)
FIRM = next(iter(scenario.FIRMS))
"""The scenario's first firm (USCC 91650100MA7XK3P2LA, the events' examples); prefers Chinese."""


async def deliver(kafka: KafkaAccess, state: Path, store: AlertStore, wake: asyncio.Event,
                  stop: asyncio.Event) -> None:
    """The tests' delivery worker, signing as the scenario's platform (a module function: the
    delivery process unpickles it)."""
    async def ensure_topics(orgs: Sequence[str]) -> None:
        await ensure(kafka, orgs)

    delivery = AlertDelivery(store, key=PLATFORM_KEY, kafka=kafka, state_dir=state,
                             ensure_topics=ensure_topics, wake=wake)
    await delivery.start()
    try:
        await delivery.run(stop, idle_s=0.2)
    finally:
        await delivery.stop()


def plugin(kafka: KafkaAccess, clock: Clock, state: Path,
           timer_interval_s: float = 0.2, *, own_process: bool = False,
           setup: Callable[[], object] | None = None) -> AlertsPlugin:
    """The alerts as ``emining views run`` hosts them (the tests' deadline timer runs every
    0.2 s instead of every 30 s, so that a test sees a deadline pass at once); the delivery in
    a process of its own with ``own_process`` (``EMINING_ALERTS_DELIVERY_PROCESS=true``), ``setup``
    run first in it (logging)."""
    workers: Workers = partial(deliver, kafka, state)
    if own_process:
        workers = in_own_process(workers, setup)
    return AlertsPlugin(CONFIG, clock, workers, timer_interval_s=timer_interval_s)


def views_config(kafka: KafkaAccess, topics: ViewTopics, store_url: str) -> ViewsConfig:
    return config_for(kafka, topics, store_url, batch_size=100)


@contextlib.asynccontextmanager
async def consuming(config: ViewsConfig, alerts: AlertsPlugin) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(run_views(config, stop, alerts=alerts))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def publish(bus: Bus, org: str, data: EventData, at: datetime, event_id: str) -> None:
    await (await bus.publisher(org)).publish_many([Draft(data, event_id=event_id, time=at)])


async def ledger(store_url: str) -> tuple[int, int]:
    """(alerts raised, alerts delivered to Kafka) in the store."""
    store = ViewStore(store_url)
    try:
        async with store.reading() as (conn, _):
            a = tables.alerts
            raised = (await conn.execute(select(func.count()).select_from(a))).scalar_one()
            done = (await conn.execute(select(func.count()).select_from(a)
                                       .where(a.c.delivered_at.is_not(None)))).scalar_one()
        return int(raised), int(done)
    finally:
        await store.close()


async def settled(store_url: str, raised: int, timeout_s: float = 60.0) -> None:
    """Wait until ``raised`` alerts exist and every one was delivered."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        with contextlib.suppress(Exception):  # the tables appear with the consumer
            if await ledger(store_url) == (raised, raised):
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"alerts not settled: {await ledger(store_url)}, want {raised}")
        await asyncio.sleep(0.2)


async def ends(kafka: KafkaAccess, orgs: Sequence[str]) -> dict[str, dict[int, int]]:
    """End offsets of the orgs' alerts topics (created if missing): where this test starts."""
    await ensure(kafka, orgs)
    consumer = AIOKafkaConsumer(**kafka.aiokafka())
    await consumer.start()
    try:
        found: dict[str, dict[int, int]] = {}
        for org in orgs:
            topic = alerts_topic(org)
            tps = [TopicPartition(topic, p) for p in await _listed(kafka, topic)]
            found[org] = {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        return found
    finally:
        await consumer.stop()


async def _listed(kafka: KafkaAccess, topic: str, timeout_s: float = 30.0) -> list[int]:
    """``topic``'s partitions once the metadata lists them: a topic just created is missing
    from it for a moment (CI, 2026-12-08: a test then read its alerts from nowhere)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (parts := await partitions_of(kafka, topic)):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{topic} is not in the metadata after {timeout_s:g}s")
        await asyncio.sleep(0.2)
    return parts


async def alerts_since(kafka: KafkaAccess, org: str, start: dict[int, int]) -> list[AlertRaised]:
    """The verified alerts on ``org``'s topic after ``start`` (every copy, in log order)."""
    topic = alerts_topic(org)
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in start]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        found: list[Any] = []
        for tp in tps:
            consumer.seek(tp, start[tp.partition])
        remaining = {tp for tp in tps if end[tp] > start[tp.partition]}
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                found += records
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        alerts = []
        for record in sorted(found, key=lambda r: (r.partition, r.offset)):
            env = VERIFIER.check(record.key, record.value, record.headers, org)
            assert isinstance(env.data, AlertRaised)
            alerts.append(env.data)
        return alerts
    finally:
        await consumer.stop()
