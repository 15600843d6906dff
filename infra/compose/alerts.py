"""Composition of the alerts: config, clock, verifier, topics, delivery and channel workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from consumers.alerts.channel_worker import ChannelSender, ChannelWorker, KafkaDeadLetters
from consumers.alerts.channels import CHANNELS
from consumers.alerts.clock import Clock, SystemClock
from consumers.alerts.config import AlertConfig, load_config
from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.directory import Directory
from consumers.alerts.reader import AlertVerifier
from consumers.alerts.service import AlertsService
from consumers.alerts.store import AlertStore
from consumers.alerts.webhook_targets import TargetPolicy
from consumers.store import ViewStore
from infra.compose import sdk
from infra.kafka_admin.topics import TopicChange, apply_topics
from infra.kafka_settings import kafka_access
from infra.settings import Settings
from schemas.alerts import PLATFORM_ORG, alerts_topic_spec
from schemas.registry import Registry
from schemas.topics import TopicSpec
from transport.sender import RecordSender


def alert_config(settings: Settings) -> AlertConfig:
    return load_config(settings.alerts_config_file)


def alert_clock(settings: Settings) -> Clock:
    return SystemClock(timedelta(seconds=settings.alerts_clock_offset_s))


def alert_verifier(settings: Settings) -> AlertVerifier:
    """Checks alerts against the trust anchor: the platform operator's key signs them."""
    return AlertVerifier(sdk.trust_anchor(settings), PLATFORM_ORG)


@asynccontextmanager
async def alerts_service(settings: Settings, *, registry: bool = False) -> AsyncIterator[
        AlertsService]:
    """The alerts service over the configured views store, for one command (``emining alerts
    …``); the directory reads the registry from the log only if ``registry`` is asked for."""
    found = await sdk.load_registry(settings) if registry else Registry()
    directory = Directory(found, alert_config(settings))
    store = AlertStore(ViewStore(settings.views_store_url))
    try:
        await store.open()
        yield AlertsService(store, lambda: directory, alert_clock(settings),
                            targets=webhook_targets(settings))
    finally:
        await store.views.close()


def alert_topic_specs(registry: Registry) -> list[TopicSpec]:
    """One alerts topic per registered organisation, and the platform's own."""
    return [alerts_topic_spec(org) for org in sorted({PLATFORM_ORG, *registry.orgs})]


async def ensure_alert_topics(settings: Settings, org_ids: Sequence[str]) -> list[TopicChange]:
    """Create the alerts topics of ``org_ids`` if missing (idempotent)."""
    return await apply_topics(
        kafka_access(settings), [alerts_topic_spec(o) for o in org_ids],
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s)


def delivery(settings: Settings, store: AlertStore,
             wake: asyncio.Event | None = None) -> AlertDelivery:
    """The worker publishing the outbox, signed by the operator key as ``…/<alerts_instance>``."""

    async def ensure(org_ids: Sequence[str]) -> None:
        await ensure_alert_topics(settings, org_ids)

    return AlertDelivery(store, key=sdk.operator_key(settings),
                         kafka=kafka_access(settings), state_dir=settings.chain_dir,
                         instance=settings.alerts_instance, ensure_topics=ensure,
                         timeout_s=settings.client_timeout_s, wake=wake)


def channel_workers(settings: Settings, store: AlertStore, clock: Clock,
                    client: httpx.AsyncClient, sender: RecordSender) -> list[ChannelWorker]:
    """One worker per registered push channel, each with the same target policy and DLQ."""
    targets, dead = webhook_targets(settings), KafkaDeadLetters(sender)
    return [ChannelWorker(store, ChannelSender(channel, client, targets=targets), dead,
                          source=f"{PLATFORM_ORG}/{settings.alerts_instance}", clock=clock)
            for channel in CHANNELS]


def webhook_targets(settings: Settings) -> TargetPolicy:
    """Where webhooks (every push channel) may point: public addresses, plus the hosts the
    operator allows."""
    return TargetPolicy.allowing(settings.webhook_allow_hosts.split(","))
