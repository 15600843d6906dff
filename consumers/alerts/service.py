"""What the HTTP API and the CLI do with subscriptions and webhooks, in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

from consumers.alerts.clock import Clock
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
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
from consumers.alerts.webhook_worker import (
    WebhookHealth,
    add_webhook,
    list_webhooks,
    remove_webhook,
    webhook_health,
)
from consumers.alerts.webhooks import Webhook
from schemas.common import Mineral, Province
from schemas.events.projects import ProjectStage

log = structlog.get_logger("consumers.alerts.service")


@dataclass
class AlertsService:
    """Subscriptions and webhooks of organisations, over the alerts' store."""

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

    async def add_webhook(self, org: str, url: str) -> Webhook:
        async with self.store.writing() as conn:
            hook = await add_webhook(conn, org, url, self.clock.now(), self.targets)
        log.info("webhook_added", org=org, webhook_id=hook.id)
        return hook

    async def webhooks(self, org: str) -> list[tuple[Webhook, WebhookHealth]]:
        """``org``'s webhooks, each with how its deliveries went (failures are reported to
        their owner here, and on the DLQ with ``dlq_org``)."""
        async with self.store.reading() as conn:
            hooks = await list_webhooks(conn, org)
            health = await webhook_health(conn, org)
        return [(h, health.get(h.id, WebhookHealth())) for h in hooks]

    async def remove_webhook(self, org: str, webhook_id: str) -> bool:
        async with self.store.writing() as conn:
            removed = await remove_webhook(conn, org, webhook_id, self.clock.now())
        log.info("webhook_removed", org=org, webhook_id=webhook_id, found=removed)
        return removed
