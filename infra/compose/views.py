"""Composition of the view consumer: its configuration, its metrics endpoint, and the consumer
hosting the alerts (``emining views run``, ``emining views rebuild``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

from consumers.config import ViewsConfig
from consumers.runner import run_views_forever
from infra.compose import sdk
from infra.compose.alerts_runtime import plugin
from infra.kafka_settings import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings, time_bounds

__all__ = ["run_views", "serve_views_metrics", "views_config"]


def views_config(settings: Settings, *, instance_id: str | None = None) -> ViewsConfig:
    """The view consumer's configuration from settings (needs the broker and the trust anchor);
    ``instance_id`` replaces ``EMINING_VIEWS_INSTANCE`` (``emining views run --instance-id``)."""
    config = ViewsConfig(
        kafka=kafka_access(settings), store_url=settings.views_store_url,
        trust_anchor=tuple(sdk.trust_anchor(settings)), group_id=settings.views_group,
        instance_id=settings.views_instance, batch_size=settings.views_batch_size,
        timeout_s=settings.client_timeout_s,
        time_bounds=time_bounds(settings), gap_grace_s=settings.views_gap_grace_s,
        verify_workers=settings.views_verify_workers,
    )
    return config if instance_id is None else replace(config, instance_id=instance_id)


def serve_views_metrics(settings: Settings) -> None:
    """The view consumer's Prometheus endpoint on ``EMINING_VIEWS_METRICS_PORT`` (loopback), if
    set: the views' metrics and the alerts' publishing (the consumer publishes the alerts, or
    its delivery process does: ``consumers.alerts.relayed_metrics``)."""
    if settings.views_metrics_port is None:
        return
    from prometheus_client import start_http_server  # noqa: PLC0415 - only when asked

    from consumers.alerts.relayed_metrics import relayed  # noqa: PLC0415
    from consumers.metrics import VIEWS  # noqa: PLC0415
    from infra.metrics import process_registry  # noqa: PLC0415
    from producers.metrics import PUBLISHING  # noqa: PLC0415

    start_http_server(settings.views_metrics_port, addr="127.0.0.1",
                      registry=process_registry(relayed(VIEWS, PUBLISHING)))


async def run_views(settings: Settings, config: ViewsConfig, stop: asyncio.Event) -> None:
    """Keep the views in step, raising and delivering the alerts, until ``stop``."""
    await run_views_forever(config, stop, alerts=lambda: plugin(settings),
                            worker_setup=partial(configure_logging, settings.log_level or "info",
                                                 settings.log_format))
