"""The HTTP ingestion gateway: organisations post events over HTTPS instead of running Kafka."""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations at run time
# and they name dependencies local to ``create_gateway``.

import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.exceptions import HTTPException
from starlette.types import Message

from producers.gateway_ingest import Answer, RefusedError, field_problems, ingest, invalid
from producers.gateway_models import (
    Acceptance,
    Health,
    IncomingEvent,
    Problem,
    UnsignedEvent,
    ValidationProblem,
)
from producers.gateway_state import GatewayState
from producers.metrics import GATEWAY, GATEWAY_LATENCY, GATEWAY_REQUESTS, PUBLISHING
from schemas.errors import EminingError

log = structlog.get_logger("producers.gateway")

_OUTCOMES = {
    202: "accepted",
    401: "unauthenticated",
    403: "forbidden",
    409: "duplicate",
    413: "too_large",
    422: "invalid",
    503: "unavailable",
}
_CHALLENGE = 'Bearer realm="emining"'
_POLICY_REASONS = {401: "unauthenticated", 403: "forbidden", 503: "registry_unavailable"}
"""Refusals of the access policy (``consumers.access_http``), as the gateway names them."""

POST_EVENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Acceptance, "description": "The broker acknowledged the event."},
    401: {"model": Problem, "description": "No API key, or one that is not (or no longer) valid."},
    403: {
        "model": Problem,
        "description": "Refused on content: outside the organisation's authority (the message "
        "names the grant and why); a pre-signed event of another organisation's source, whose "
        "signature does not verify, or signed with a key the registry does not hold valid at "
        "its time; a custodial event for an organisation whose key the gateway does not hold.",
    },
    409: {
        "model": Acceptance | Problem,
        "description": "This organisation already sent this event id: the body is the first "
        "answer, unchanged. No second record is made. Or (reason invalid_transition) the "
        "file's lifecycle does not allow this step: nothing is published.",
    },
    413: {"model": Problem, "description": "Body or event data over the size limit."},
    422: {
        "model": ValidationProblem,
        "description": "Malformed body, unknown type, or data that fails the type's schema: "
        "each problem names its field (loc). Nothing is published.",
    },
    503: {
        "model": Problem,
        "description": "The broker is unreachable or did not acknowledge in time. Nothing "
        "was recorded, except a custodial event the message calls queued: it is delivered "
        "before the organisation's next one, and re-sending its id returns its receipt.",
    },
}


def _problem(exc: RefusedError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)


def _refusal(exc: Exception) -> RefusedError:
    """Any way a submission can fail, as the refusal the client sees."""
    if isinstance(exc, RefusedError):
        return exc
    if isinstance(exc, RequestValidationError):
        problems = field_problems(exc.errors())
        for problem in problems:  # the union's tag is not a field the client wrote
            if problem["loc"][1:2] in (["signed"], ["unsigned"]):
                del problem["loc"][1]
        return RefusedError(422, "invalid", problems)
    if isinstance(exc, HTTPException) and exc.status_code in _POLICY_REASONS:  # the policy
        return RefusedError(exc.status_code, _POLICY_REASONS[exc.status_code], str(exc.detail),
                            dict(exc.headers or {}))
    if isinstance(exc, HTTPException):  # FastAPI's "error parsing the body" (e.g. not UTF-8)
        return invalid(["body"], f"the body is not UTF-8 JSON ({exc.detail})", "json_invalid")
    return RefusedError(503, "gateway_unavailable", str(exc))


async def _within_limit(request: Request, limit: int) -> Request:
    """``request`` with its body read, if neither Content-Length nor the bytes exceed ``limit``.

    Both are checked: a client may send no Content-Length (chunked) or more than it declared.
    """
    too_large = RefusedError(413, "too_large", f"the body is over the limit of {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if replayed:
            return await request.receive()
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return Request(request.scope, receive)


def _guarded_route(state: GatewayState) -> type[APIRoute]:
    """A route class that answers every refusal itself, counts outcomes and logs each request."""

    class EventsRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            limit = state.max_body_bytes

            async def guarded(request: Request) -> Response:
                started = time.perf_counter()
                request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
                with structlog.contextvars.bound_contextvars(request_id=request_id, org=None):
                    try:
                        response = await handler(await _within_limit(request, limit))
                    except (
                        RefusedError, RequestValidationError, HTTPException, EminingError
                    ) as exc:
                        refusal = _refusal(exc)
                        log.warning(
                            "event_rejected",
                            status=refusal.status,
                            reason=refusal.reason,
                            event_id=getattr(request.state, "event_id", None),
                            detail=refusal.detail,
                        )
                        response = _problem(refusal)
                outcome = _OUTCOMES.get(response.status_code, "error")
                GATEWAY_REQUESTS.labels(outcome=outcome).inc()
                GATEWAY_LATENCY.labels(outcome=outcome).observe(time.perf_counter() - started)
                response.headers["X-Request-ID"] = request_id
                return response

            return guarded

    return EventsRoute


async def submit(state: GatewayState, org: str, person: str, event: UnsignedEvent,
                 via: str = "console") -> Answer:
    """One event a signed-in person sends from a page (``via``), through the same custodial
    path, checks, receipts, log lines and counters as ``POST /v1/events``. The person is what
    the gateway records of who acted (``principal`` on its log lines, as for a session's POST);
    the signed event names the organisation and its custodial source.

    Returns the answer (202, or 409 with the first receipt for an id sent again); raises
    ``RefusedError`` with the status and reason the HTTP path would answer.
    """
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(org=org, principal=person, via=via):
        try:
            answer = await ingest(state, org, event)
        except (RefusedError, EminingError) as exc:
            refusal = _refusal(exc)
            log.warning("event_rejected", status=refusal.status, reason=refusal.reason,
                        event_id=event.id, detail=refusal.detail)
            outcome = _OUTCOMES.get(refusal.status, "error")
            GATEWAY_REQUESTS.labels(outcome=outcome).inc()
            GATEWAY_LATENCY.labels(outcome=outcome).observe(time.perf_counter() - started)
            raise refusal from exc
        outcome_name = "event_accepted" if answer.status == 202 else "event_repeated"  # noqa: PLR2004
        log.info(outcome_name, event_id=answer.body.get("id"), topic=answer.body.get("topic"),
                 partition=answer.body.get("partition"), offset=answer.body.get("offset"),
                 sequence=answer.body.get("sequence"), custody=answer.body.get("custody"))
        outcome = _OUTCOMES.get(answer.status, "error")
        GATEWAY_REQUESTS.labels(outcome=outcome).inc()
        GATEWAY_LATENCY.labels(outcome=outcome).observe(time.perf_counter() - started)
        return answer


def gateway_registry() -> CollectorRegistry:
    """A registry of what the gateway measures alone (no process collectors)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (*PUBLISHING, *GATEWAY):
        registry.register(collector)
    return registry


def create_gateway(state: GatewayState, registry: CollectorRegistry | None = None) -> APIRouter:
    """The gateway's routes (``/v1/events``, ``/v1/health``, ``/metrics``) over ``state``;
    ``/metrics`` serves ``registry`` (the process's: ``infra.metrics.process_registry``)."""
    router = APIRouter()
    served = registry if registry is not None else gateway_registry()
    bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
    header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key")

    async def organisation(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        api_key: Annotated[str | None, Security(header_key)],
    ) -> str:
        signed_in = getattr(request.state, "principal", None)
        if signed_in is not None and signed_in.org:  # admitted by the access policy already
            request.state.org = signed_in.org
            structlog.contextvars.bind_contextvars(org=signed_in.org,
                                                   principal=signed_in.subject)
            return str(signed_in.org)
        token = credentials.credentials if credentials else api_key
        if not token:
            raise RefusedError(401, "missing_api_key",
                               "send your organisation's API key as Authorization: Bearer <key> "
                               "or X-API-Key", {"WWW-Authenticate": _CHALLENGE})
        org = state.api_keys.authenticate(token)
        if org is None:
            raise RefusedError(401, "bad_api_key",
                               "this API key is not valid (revoked or mistyped)",
                               {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'})
        request.state.org = org
        structlog.contextvars.bind_contextvars(org=org)
        return org

    async def post_event(
        request: Request,
        event: Annotated[IncomingEvent, Body()],
        org: Annotated[str, Depends(organisation)],
    ) -> JSONResponse:
        """Publish one event as the authenticated organisation.

        Two forms. Without ``specversion``: an unsigned event (``type``, ``data``, optional
        ``subject``, ``id``, ``time``) that the gateway validates and signs custodially with the
        key it holds for the organisation, as source ``<org>/custodial-gateway`` (the answer says
        ``"custody": true``). With ``specversion``: a CloudEvent in structured JSON form that the
        organisation signed itself; it is checked by every rule a consumer applies (envelope,
        schema, signature, authority) and sent unchanged.

        Status codes: 202 once the broker acknowledged; 422 for anything malformed (the body,
        the type, a field: ``loc`` names it); 403 for content the organisation may not send:
        outside its authority, another organisation's source, a signature that does not verify
        or a key the registry does not hold valid at the event's time (the content failed to
        authenticate, the caller did not); 401 for a missing or invalid API key; 409 for an id
        this organisation already sent (body: the first answer); 413 over the size limit; 503
        when the broker is unreachable.
        """
        request.state.event_id = event.id
        answer = await ingest(state, org, event)
        outcome = "event_accepted" if answer.status == 202 else "event_repeated"  # noqa: PLR2004
        log.info(outcome, event_id=answer.body.get("id"), topic=answer.body.get("topic"),
                 partition=answer.body.get("partition"), offset=answer.body.get("offset"),
                 sequence=answer.body.get("sequence"), custody=answer.body.get("custody"))
        return JSONResponse(answer.body, status_code=answer.status)

    router.add_api_route(
        "/v1/events",
        post_event,
        methods=["POST"],
        status_code=202,
        response_model=Acceptance,
        responses=POST_EVENT_RESPONSES,
        summary="Publish an event",
        tags=["events"],
        route_class_override=_guarded_route(state),
    )

    @router.get("/v1/health", response_model=Health, responses={503: {"model": Health}},
                tags=["operations"])
    async def health() -> JSONResponse:
        """200 when the broker answers a metadata request within a few seconds, else 503."""
        reachable = await state.broker_reachable()
        age = state.registry_age_s
        body = Health(
            status="ok" if reachable else "unavailable",
            broker="reachable" if reachable else "unreachable",
            registry_organisations=len(state.registry.orgs),
            registry_age_s=None if age is None else round(age, 3),
        )
        return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)

    @router.get("/metrics", response_class=Response, tags=["operations"],
                responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}})
    async def metrics(request: Request) -> Response:
        """Prometheus metrics of this process: HTTP requests, the gateway, its publishers.

        The text format, or OpenMetrics when the scraper asks for it (``Accept``)."""
        encoder, media_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(served), media_type=media_type)

    return router
