"""Composition of the HTTP service: settings in, a FastAPI app with the gateway mounted out."""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations at
# run time, and they name callables local to the functions that build them.

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from consumers.access_http import access_dependency, document_policy, unruled
from consumers.alerts.directory import Directory
from consumers.alerts.http import create_alerts_router
from consumers.alerts.service import AlertsService
from consumers.alerts.sse import create_stream_router
from consumers.alerts.stage import load_views
from consumers.alerts.store import AlertStore
from consumers.api import create_views_router
from consumers.api_audit import create_audit_router
from consumers.api_public import PublicData, create_public_router
from consumers.config import ViewTopics
from consumers.console.pages import mount_console
from consumers.freshness import Freshness, FreshReads
from consumers.readlog import ReadLog
from consumers.store import ViewStore
from consumers.store_read import get_view, offsets_and_held
from consumers.views.facts import speaker
from consumers.views.families import FAMILIES
from infra.compose import alerts as alerts_wiring
from infra.compose import sdk
from infra.compose.console_audit import LogAudit
from infra.kafka_settings import audit_access, kafka_access
from infra.logging import configure_logging
from infra.metrics import instrument
from infra.settings import Settings, time_bounds
from producers.accounts import AccountStore
from producers.auth_routes import create_auth_router
from producers.authn import Authenticator
from producers.gateway import create_gateway, submit
from producers.gateway_auth import ApiKeyStore
from producers.gateway_state import GatewayState, StatusLookup, SubjectJudge
from producers.metrics import GATEWAY, PUBLISHING
from producers.oidc import OidcVerifier, load_issuers
from schemas.base import EventData
from schemas.errors import EminingError
from schemas.lifecycles import status_in
from schemas.registry import Registry
from transport.access import KafkaAccess
from transport.meta import key_partition
from transport.sender import RecordSender


def gateway_state(settings: Settings) -> GatewayState:
    """The gateway's state from settings. Reads the trust anchor; connects to nothing yet."""
    kafka = kafka_access(settings)

    async def load_registry() -> Registry:
        return await sdk.load_registry(settings)

    return GatewayState(
        sender=RecordSender(kafka, timeout_s=settings.client_timeout_s),
        load_registry=load_registry,
        trust_anchor=sdk.trust_anchor(settings),
        api_keys=ApiKeyStore(settings.api_keys_path),
        custody_dir=settings.custody_path,
        chain_dir=settings.chain_dir,
        receipts_dir=settings.gateway_dir,
        max_body_bytes=settings.gateway_max_body_bytes,
        registry_refresh_s=settings.registry_refresh_s,
        health_timeout_s=min(settings.client_timeout_s, 3.0),
        time_bounds=time_bounds(settings),
    )


def build_app(settings: Settings | None = None) -> FastAPI:
    """The ``emining serve`` app. Startup connects to the broker (bounded; if it is down the
    gateway still starts, answers 503 and keeps retrying) and reads the registry from the log.
    """
    settings = settings or Settings()
    # Here, not only in the CLI: `uvicorn infra.compose.app:build_app --factory` gets the same logs.
    configure_logging(settings.log_level or "info", settings.log_format)
    views = ViewStore(settings.views_store_url)
    gateway = gateway_state(settings)
    freshness = Freshness(gateway.sender.kafka, ViewTopics().consumed())
    # Its own, uncached: a second-old end offset could call the views caught up while a record
    # that makes the step possible is on its way.
    lookup_freshness = Freshness(gateway.sender.kafka, ViewTopics().consumed(), ttl_s=0.0)
    gateway.status_of, gateway.judge = _lookups(views, lookup_freshness)
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
            await accounts.open()
            try:
                yield
            finally:
                await freshness.close()
                await lookup_freshness.close()
                await views.close()
                await accounts.close()
                await oidc.client.aclose()

    reads = ReadLog(views)
    async def refresh() -> None:
        await gateway.refresh_registry(min_gap_s=gateway.min_refresh_gap_s)

    accounts = AccountStore(settings.accounts_store_url)
    oidc = OidcVerifier(load_issuers(settings.oidc_config_file))
    authenticator = Authenticator(gateway.api_keys, accounts, oidc if oidc.issuers else None)
    access = access_dependency(authenticator, lambda: gateway.registry,
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
    app.state.authenticator = authenticator
    # This process's one registry: what it measures (HTTP requests, the gateway, publishing),
    # never the view consumer's metrics, which `emining views run` serves.
    app.include_router(create_gateway(gateway, instrument(app, PUBLISHING, GATEWAY)),
                       dependencies=guarded)
    app.include_router(create_views_router(views, freshness, access), prefix="/v1")
    public = PublicData(views, lambda: gateway.registry)
    app.include_router(create_public_router(views, lambda: gateway.registry, access, public),
                       prefix="/v1")
    app.include_router(create_audit_router(reads, access), prefix="/v1")
    app.include_router(create_auth_router(accounts, authenticator,
                                          secure_cookie=settings.session_cookie_secure),
                       prefix="/v1", dependencies=guarded)
    app.include_router(create_alerts_router(alerts, gateway.api_keys), prefix="/v1",
                       dependencies=guarded)
    app.include_router(create_stream_router(gateway.api_keys, gateway.sender.kafka,
                                            alerts_wiring.alert_verifier(settings)), prefix="/v1",
                       dependencies=guarded)
    # The web console at /: pages over the same access policy and read paths as the API.
    mount_console(app, store=views, public=public, alerts=alerts.store, accounts=accounts,
                  registry=lambda: gateway.registry, access=access,
                  secure_cookie=settings.session_cookie_secure,
                  submit=lambda org, person, event: submit(gateway, org, person, event),
                  **_log_audit(settings, gateway.sender.kafka))
    _document(app)
    missing = unruled(app.routes)
    if missing:  # every route needs a rule in consumers.policy.ROUTES: none is open by accident
        raise EminingError(f"routes without an access rule: {', '.join(missing)}")
    return app


def _log_audit(settings: Settings, serving: KafkaAccess) -> dict[str, Any]:
    """The console's verify and state-as-of over the log, when serve has a principal that may
    read it all (``EMINING_AUDIT_KAFKA_*``); else nothing, and those pages name the CLI."""
    reader = audit_access(settings, serving)
    if reader is None:
        return {}
    audit = LogAudit.of(reader, sdk.trust_anchor(settings), timeout_s=settings.client_timeout_s,
                        bounds=time_bounds(settings))
    return {"verify": audit.verify, "state_as_of": audit.state_as_of}


def _document(app: FastAPI) -> None:
    """The OpenAPI document with the access policy and the common answers in it."""
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_common_answers(document_policy(plain_openapi()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it


def document_common_answers(schema: dict[str, Any]) -> dict[str, Any]:
    """Answers every operation of a kind can give, documented once: 404 where the path names
    something (a subject, a webhook), 400 where a body is read (one that is not JSON)."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "{" in path:
                responses.setdefault("404", {"description": "Nothing of that id here (or not "
                                                            "your organisation's)."})
            # The event intake answers an unparsable body with its own 422 (it documents every
            # answer it gives); FastAPI's other routes answer it with 400.
            if "requestBody" in operation and "events" not in operation.get("tags", ()):
                responses.setdefault("400", {"description": "The body could not be parsed."})
    return schema


class AppliedOffsets:
    """The views store's next offset per partition and the partitions holding records, for
    the gateway's lookups: always read after the request asked (the views may have applied a
    record since), concurrent requests sharing the reads (``FreshReads``). Each request reading
    them itself, twice (the subject and the lifecycle check), was a read transaction on the
    store each time (docs/performance.md, "Fifth pass")."""

    def __init__(self, views: ViewStore) -> None:
        self._reads = FreshReads(lambda: offsets_and_held(views))

    async def get(self) -> tuple[dict[tuple[str, int], int], frozenset[tuple[str, int]]]:
        return await self._reads.get()


def _lookups(views: ViewStore, freshness: Freshness) -> tuple[StatusLookup, SubjectJudge]:
    """The gateway's two checks of a step against the views, sharing the applied offsets."""
    applied = AppliedOffsets(views)
    return lifecycle_lookup(views, freshness, applied), subject_judge(views, freshness, applied)


async def _caught_up(applied: AppliedOffsets, freshness: Freshness, subject: str,
                     topic: str) -> bool:
    """Whether the views have applied everything on the subject's partition that the broker
    had acknowledged when this was asked (``freshness`` reads the end offsets fresh). A
    partition with held records is not: the stored offset is past them, the views are not."""
    stored, held = await applied.get()
    ends = await freshness.end_offsets({t for t, _ in stored})
    if ends is None:
        return False
    parts = {p for t, p in (*stored, *ends) if t == topic}
    if not parts:
        return False
    mine = key_partition(subject.encode(), len(parts))
    end = ends.get((topic, mine))
    return (end is not None and end <= stored.get((topic, mine), 0)
            and (topic, mine) not in held)


def subject_judge(views: ViewStore, freshness: Freshness,
                  applied: AppliedOffsets | None = None) -> SubjectJudge:
    """What the views would refuse of an event on its subject as it stands, for the gateway to
    refuse at the door (the same rules as ``consumers.fold``): another party than the one the
    subject is registered to, a subject that exists already, a fact its state rules out (a
    delivery to a mine, a clearance of another declaration). Only when the views are caught up
    with the subject's partition: else the consumers decide alone."""
    seen = applied or AppliedOffsets(views)

    async def judge(data: EventData) -> tuple[int, str, str] | None:
        family = FAMILIES.get(data.TOPIC)
        if family is None or not await _caught_up(seen, freshness, data.subject, data.TOPIC):
            return None
        async with views.reading() as (conn, tables):
            found = await load_views(conn, tables.view(family.name), family.view_type,
                                     [data.subject])
        view = found.get(data.subject)
        if view is None:
            return None
        if isinstance(data, family.opens):
            return 409, "subject_exists", f"{data.subject} already exists"
        registered = family.party(view)
        if speaker(data) != registered:
            named = speaker(data)
            return 403, "party_mismatch", (
                f"the event names {named} but {data.subject} is registered to {registered}")
        why = family.refuses(view, data)
        return None if why is None else (409, "invalid_transition", why)

    return judge


def lifecycle_lookup(views: ViewStore, freshness: Freshness,
                     applied: AppliedOffsets | None = None) -> StatusLookup:
    """The gateway's view of a file's status: caught up only when the views have applied
    everything on the subject's partition (else the consumers judge the step alone)."""
    seen = applied or AppliedOffsets(views)

    async def status_of(subject: str, topic: str) -> tuple[bool, str | None]:
        if not await _caught_up(seen, freshness, subject, topic):
            return False, None
        for family in FAMILIES.values():  # the topics' own views: those with a lifecycle
            doc = await get_view(views, family.name, subject)
            if doc is not None:
                return True, status_in(doc)
        return True, None

    return status_of
