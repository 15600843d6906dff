"""Composition of the HTTP service: settings in, a FastAPI app with the gateway mounted out."""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations at
# run time, and they name callables local to the functions that build them.

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, Security
from fastapi.responses import RedirectResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline

from consumers.access_http import access_dependency, document_policy, unruled
from consumers.alerts.directory import Directory
from consumers.alerts.http import create_alerts_router
from consumers.alerts.service import AlertsService
from consumers.alerts.sse import create_stream_router
from consumers.alerts.store import AlertStore
from consumers.api import create_views_router
from consumers.api_audit import create_audit_router
from consumers.api_public import create_public_router
from consumers.config import ViewTopics
from consumers.freshness import Freshness
from consumers.readlog import ReadLog
from consumers.store import ViewStore
from infra import alerts_wiring, wiring
from infra.kafka_client import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings
from producers.gateway import create_gateway
from producers.gateway_auth import ApiKeyStore, hash_token
from producers.gateway_state import GatewayState
from producers.sender import RecordSender
from schemas.access import ANONYMOUS, AuthMethod, Principal, UserRole
from schemas.errors import EminingError
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
                           alerts_wiring.alert_clock(settings),
                           targets=alerts_wiring.webhook_targets(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with gateway.running():
            # Read side: the views store, created empty if missing. A views schema left behind
            # by an upgrade must not keep the gateway down: `emining views run` reports it.
            await views.open(check_version=False)
            await alerts.store.create_tables()
            await reads.create_table()
            try:
                yield
            finally:
                await freshness.close()
                await views.close()

    reads = ReadLog(views)
    async def refresh() -> None:
        await gateway.refresh_registry(min_gap_s=gateway.min_refresh_gap_s)

    access = access_dependency(api_key_principal(gateway.api_keys), lambda: gateway.registry,
                               reads, refresh, lambda: gateway.registry_age_s is not None)
    guarded = [Depends(access)]

    # The documentation pages with their assets served from the package, never from a CDN:
    # /docs and /redoc work on a network without the internet.
    app = FastAPIOffline(
        title="E-Mining Bus",
        summary="Signed project, approval and shipment events between Pakistan and China.",
        version="1",
        lifespan=lifespan,
    )
    app.state.gateway = gateway

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    app.include_router(create_gateway(gateway), dependencies=guarded)
    app.include_router(create_views_router(views, freshness, access), prefix="/v1")
    app.include_router(create_public_router(views, lambda: gateway.registry, access),
                       prefix="/v1")
    app.include_router(create_audit_router(reads, access), prefix="/v1")
    app.include_router(create_alerts_router(alerts, gateway.api_keys), prefix="/v1",
                       dependencies=guarded)
    app.include_router(create_stream_router(gateway.api_keys, gateway.sender.kafka,
                                            alerts_wiring.alert_verifier(settings)), prefix="/v1",
                       dependencies=guarded)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_common_answers(document_policy(plain_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
    missing = unruled(app.routes)
    if missing:  # every route needs a rule in consumers.policy.ROUTES: none is open by accident
        raise EminingError(f"routes without an access rule: {', '.join(missing)}")
    return app


def api_key_principal(api_keys: ApiKeyStore) -> Callable[..., Awaitable[Principal]]:
    """The caller as its organisation's API key says (anonymous without one; 401 if wrong)."""
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key")

    async def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        api_key: Annotated[str | None, Security(header_key)],
    ) -> Principal:
        token = credentials.credentials if credentials else api_key
        if not token:
            return ANONYMOUS
        org = api_keys.authenticate(token)
        if org is None:
            raise HTTPException(401, "this API key is not valid (revoked or mistyped)",
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        del request
        return Principal(org=org, roles=frozenset({UserRole.MACHINE}),
                         subject=f"api-key:{hash_token(token)[:12]}", method=AuthMethod.API_KEY)

    return principal


def document_common_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Answers every operation of a kind can give, documented once: 404 where the path names
    something (a subject, a webhook), 400 where a body is read (one that is not JSON)."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "{" in path:
                responses.setdefault("404", {"description": "Nothing of that id here (or not "
                                                            "your organisation's)."})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "The body could not be parsed."})
    return schema
