"""Composition of the HTTP service: settings in, a FastAPI app with the gateway mounted out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from consumers.alerts.directory import Directory
from consumers.alerts.http import create_alerts_router
from consumers.alerts.service import AlertsService
from consumers.alerts.sse import create_stream_router
from consumers.alerts.store import AlertStore
from consumers.api import create_views_router
from consumers.config import ViewTopics
from consumers.freshness import Freshness
from consumers.store import ViewStore
from infra import alerts_wiring, wiring
from infra.kafka_client import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings
from producers.gateway import create_gateway
from producers.gateway_auth import ApiKeyStore
from producers.gateway_state import GatewayState
from producers.sender import RecordSender
from schemas.registry import Registry


def gateway_state(settings: Settings) -> GatewayState:
    """The gateway's state from settings. Reads the trust anchor; connects to nothing yet."""
    kafka = kafka_access(settings)

    async def load_registry() -> Registry:
        return await wiring.load_registry(settings)

    return GatewayState(
        sender=RecordSender(kafka, timeout_s=settings.client_timeout_s),
        load_registry=load_registry,
        trust_anchor=wiring.trust_anchor(settings),
        api_keys=ApiKeyStore(settings.api_keys_path),
        custody_dir=settings.custody_path,
        chain_dir=settings.chain_dir,
        receipts_dir=settings.gateway_dir,
        max_body_bytes=settings.gateway_max_body_bytes,
        registry_refresh_s=settings.registry_refresh_s,
        health_timeout_s=min(settings.client_timeout_s, 3.0),
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """The ``emining serve`` app. Startup connects to the broker (bounded; if it is down the
    gateway still starts, answers 503 and keeps retrying) and reads the registry from the log.
    """
    settings = settings or Settings()
    # Here, not only in the CLI: `uvicorn infra.app:build_app --factory` gets the same logs.
    configure_logging(settings.log_level or "info", settings.log_format)
    gateway = gateway_state(settings)
    views = ViewStore(settings.views_store_url)
    freshness = Freshness(gateway.sender.kafka, ViewTopics().consumed())
    alert_config = alerts_wiring.alert_config(settings)
    alerts = AlertsService(AlertStore(views), lambda: Directory(gateway.registry, alert_config),
                           alerts_wiring.alert_clock(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with gateway.running():
            # Read side: the views store, created empty if missing. A views schema left behind
            # by an upgrade must not keep the gateway down: `emining views run` reports it.
            await views.open(check_version=False)
            await alerts.store.create_tables()
            try:
                yield
            finally:
                await freshness.close()
                await views.close()

    app = FastAPI(
        title="E-Mining Bus",
        summary="Signed project, approval and shipment events between Pakistan and China.",
        version="1",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.include_router(create_gateway(gateway))
    app.include_router(create_views_router(views, freshness), prefix="/v1")
    app.include_router(create_alerts_router(alerts, gateway.api_keys), prefix="/v1")
    app.include_router(create_stream_router(gateway.api_keys, gateway.sender.kafka,
                                            alerts_wiring.alert_verifier(settings)), prefix="/v1")
    return app
