"""Running the alert workers: Kafka delivery and push channels, alone or beside the views."""

from __future__ import annotations

import asyncio
from functools import partial

import httpx

from consumers.alerts.clock import Clock
from consumers.alerts.plugin import AlertsPlugin, Workers
from consumers.alerts.store import AlertStore
from consumers.alerts.worker_process import in_own_process
from consumers.store import ViewStore
from infra.compose import alerts as alerts_wiring
from infra.kafka_settings import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings
from transport.sender import RecordSender


async def run_workers(settings: Settings, store: AlertStore, clock: Clock, stop: asyncio.Event,
                      wake: asyncio.Event | None = None) -> None:
    """Deliver the outbox to Kafka and to every push channel until ``stop``."""
    delivery = alerts_wiring.delivery(settings, store, wake)
    async with (
        httpx.AsyncClient() as client,
        RecordSender(kafka_access(settings), timeout_s=settings.client_timeout_s) as sender,
    ):
        await delivery.start()
        pushes = alerts_wiring.channel_workers(settings, store, clock, client, sender)
        try:
            await asyncio.gather(delivery.run(stop), *(push.run(stop) for push in pushes))
        finally:
            await delivery.stop()


async def deliver_forever(settings: Settings, stop: asyncio.Event) -> None:
    """``emining alerts deliver``: the workers over the configured store."""
    store = AlertStore(ViewStore(settings.views_store_url, inline=True))
    try:
        await store.open()
        await run_workers(settings, store, alerts_wiring.alert_clock(settings), stop)
    finally:
        await store.views.close()


async def _workers(settings: Settings, store: AlertStore, wake: asyncio.Event,
                   stop: asyncio.Event) -> None:
    """The plugin's workers (a module function: the delivery process unpickles it)."""
    await run_workers(settings, store, alerts_wiring.alert_clock(settings), stop, wake)


def plugin(settings: Settings, *, timer_interval_s: float = 30.0) -> AlertsPlugin:
    """The alerts as ``emining views run`` hosts them: rules, timer and both workers, the
    workers in a process of their own unless ``alerts_delivery_process`` is off."""
    workers: Workers = partial(_workers, settings)
    if settings.alerts_delivery_process:
        workers = in_own_process(workers, setup=partial(
            configure_logging, settings.log_level or "info", settings.log_format))
    return AlertsPlugin(alerts_wiring.alert_config(settings), alerts_wiring.alert_clock(settings),
                        workers, timer_interval_s=timer_interval_s)
