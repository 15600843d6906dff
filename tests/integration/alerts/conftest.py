"""Fixtures for alerts against the real broker: an operator key, a store, unique recipients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.alerts.clock import ManualClock
from consumers.alerts.config import AlertConfig
from consumers.alerts.directory import Directory
from consumers.alerts.i18n import Ident, Message
from consumers.alerts.model import Notice
from consumers.alerts.reader import AlertVerifier
from consumers.alerts.render import alert_of
from consumers.alerts.store import AlertStore
from consumers.store import ViewStore
from infra.kafka_admin.topics import apply_topics
from schemas.alerts import (
    PLATFORM_ORG,
    AlertCause,
    AlertRaised,
    AlertRule,
    CauseKind,
    Severity,
    alerts_topic_spec,
)
from schemas.registry import Registry
from schemas.signing import PrivateKey
from schemas.topics import alerts_topic
from transport.access import KafkaAccess
from transport.meta import partitions_of

NOW = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def unique_firm() -> str:
    return f"urn:emining:cn:ent:alerts-test-{uuid.uuid4().hex[:10]}"


def customs_hold_alert(recipient: str, shipment: str) -> AlertRaised:
    """A ready-made alert (the delivery does not care which rule raised it)."""
    cause = AlertCause(kind=CauseKind.EVENT, key=f"urn:emining:pk:gov:customs/gw#{shipment}")
    notice = Notice(AlertRule.CUSTOMS_HOLD, recipient, shipment, cause, Severity.WARNING,
                    Message("border_overdue", {"shipment": Ident(shipment),
                                               "exporter": Ident("firm"), "cleared": Ident("-"),
                                               "hours": Ident("48")}))
    return alert_of(notice, Directory(Registry(), AlertConfig()), NOW)


@pytest.fixture
def operator() -> PrivateKey:
    return PrivateKey.generate(PLATFORM_ORG)


@pytest.fixture
def verifier(operator: PrivateKey) -> AlertVerifier:
    return AlertVerifier([operator.public_key], PLATFORM_ORG)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def alert_store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    store = AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    await store.open()
    yield store
    await store.views.close()


async def ensure(kafka: KafkaAccess, orgs: Sequence[str]) -> None:
    await apply_topics(kafka, [alerts_topic_spec(o) for o in orgs], timeout_s=15.0)


async def topic_records(kafka: KafkaAccess, org: str) -> list[Any]:
    """Every record on ``org``'s alerts topic, oldest first."""
    topic = alerts_topic(org)
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found: list[Any] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, records in (await consumer.getmany(*tps, timeout_ms=500)).items():
                found += records
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


# The views' fixtures (a test's own shared topics, the scenario's registry published on them):
# the pipeline tests run the view consumer with the alerts plugin over them.
from tests.integration.views.conftest import bus, view_topics  # noqa: E402, F401
