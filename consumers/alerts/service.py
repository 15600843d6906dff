"""What the HTTP API and the CLI do with subscriptions and channel targets, in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import structlog

from consumers.alerts import outbox
from consumers.alerts.channel import Endpoint
from consumers.alerts.channels import channel
from consumers.alerts.clock import Clock
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.alerts.outbox import Health
from consumers.alerts.render import alert_of
from consumers.alerts.stage import nothing
from consumers.alerts.store import AlertStore, record_alerts
from consumers.alerts.subscriptions import (
    create_subscription,
    delete_subscription,
    existing_notices,
    list_subscriptions,
    matching_projects,
)
from consumers.alerts.webhook_targets import TargetPolicy
from schemas.common import Mineral, Province
from schemas.events.projects import ProjectStage

log = structlog.get_logger("consumers.alerts.service")


@dataclass
class AlertsService:
    """Subscriptions and push-channel targets (webhooks, …) of organisations, over the alerts'
    store. An organisation only ever adds, lists or removes its own targets."""

    store: AlertStore
    directory: Callable[[], Directory]
    clock: Clock
    on_new: Callable[[], None] = field(default=nothing)
    """Called after alerts were added to the outbox (wakes an in-process delivery worker)."""
    targets: TargetPolicy = field(default_factory=TargetPolicy)
    """Where webhooks may point (public addresses, plus the hosts the operator allows)."""

    async def subscribe(
        self, org: str, *, minerals: Iterable[Mineral] = (), provinces: Iterable[Province] = (),
        stages: Iterable[ProjectStage] = (), include_existing: bool = False,
    ) -> tuple[Subscription, list[str]]:
        """A new filter; with ``include_existing`` also one alert per known matching project,
        raised in the same transaction. Returns the filter and the new alert ids."""
        now = self.clock.now()
        async with self.store.views.writing() as (conn, tables):
            sub = await create_subscription(conn, org, minerals=minerals, provinces=provinces,
                                            stages=stages, now=now)
            new: list[str] = []
            if include_existing:
                directory = self.directory()
                notices = existing_notices(sub, await matching_projects(conn, tables, sub),
                                           directory)
                new = await record_alerts(conn, [alert_of(n, directory, now) for n in notices])
        log.info("subscription_created", org=org, subscription=sub.id, alerts=len(new))
        if new:
            self.on_new()
        return sub, new

    async def subscriptions(self, org: str) -> list[Subscription]:
        async with self.store.reading() as conn:
            return await list_subscriptions(conn, org)

    async def unsubscribe(self, org: str, sub_id: str) -> bool:
        async with self.store.writing() as conn:
            deleted = await delete_subscription(conn, org, sub_id)
        log.info("subscription_deleted", org=org, subscription=sub_id, found=deleted)
        return deleted

    async def add_target(self, name: str, org: str, url: str, *, secret: str | None = None,
                         options: Mapping[str, str] | None = None) -> Endpoint:
        """Register ``url`` on channel ``name`` for ``org``'s alerts. The target policy checks
        the URL (``WebhookTargetError``), the channel its secret and options
        (``ChannelConfigError``); an unknown channel is ``UnknownChannelError``."""
        found = channel(name)
        kept, checked = found.configured(secret, options or {})
        await self.targets.check(url)
        async with self.store.writing() as conn:
            target = await outbox.add_target(conn, found.tables, org, url, kept, checked,
                                             self.clock.now())
        log.info("channel_target_added", channel=name, org=org, target_id=target.id)
        return target

    async def targets_of(self, name: str, org: str) -> list[tuple[Endpoint, Health]]:
        """``org``'s targets on channel ``name``, each with how its deliveries went (failures
        are reported to their owner here, and on the DLQ with ``dlq_org``)."""
        found = channel(name)
        async with self.store.reading() as conn:
            targets = await outbox.list_targets(conn, found.tables, org)
            health = await outbox.health(conn, found.tables, org)
        return [(target, health.get(target.id, Health())) for target in targets]

    async def remove_target(self, name: str, org: str, target_id: str) -> bool:
        found = channel(name)
        async with self.store.writing() as conn:
            removed = await outbox.remove_target(conn, found.tables, org, target_id,
                                                 self.clock.now(), f"{name} removed")
        log.info("channel_target_removed", channel=name, org=org, target_id=target_id,
                 found=removed)
        return removed

    async def add_webhook(self, org: str, url: str) -> Endpoint:
        return await self.add_target("webhook", org, url)

    async def webhooks(self, org: str) -> list[tuple[Endpoint, Health]]:
        return await self.targets_of("webhook", org)

    async def remove_webhook(self, org: str, webhook_id: str) -> bool:
        return await self.remove_target("webhook", org, webhook_id)
