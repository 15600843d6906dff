"""One Prometheus registry per process, and what the HTTP service measures of every request.

A process that serves metrics builds its registry here from the groups of metrics it measures
(``consumers.metrics.VIEWS``, ``producers.metrics.PUBLISHING``, ``producers.metrics.GATEWAY``),
with the process, platform and garbage-collector collectors; nothing goes in prometheus_client's
global default registry, so no process exports another's metrics at 0.

``ObservedRequests`` is the HTTP service's outermost ASGI middleware: every request is counted
and timed by method, route template (``/v1/shipments/{shipment_id}``, never the raw path: a
path names a subject, and one series per subject would grow without end) and status; every
read of the API (``GET /v1/...``) is logged as one ``api_read`` line.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consumers.access_http import READ_TALLY, ReadTally, route_path

log = structlog.get_logger("infra.http")

UNMATCHED = "unmatched"
"""The route label of a request no route matched (its raw path is not a label)."""
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUIET = frozenset({"/v1/health"})
"""Reads logged at debug only: probes poll them every few seconds."""


def process_registry(*groups: Iterable[Collector]) -> CollectorRegistry:
    """The registry a process serves: the process's own collectors and ``groups``."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for group in groups:
        for collector in group:
            registry.register(collector)
    return registry


class HttpMetrics:
    """Request count and duration of one HTTP app, by method, route template and status."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "emining_http_requests_total",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"], registry=registry,
        )
        self.seconds = Histogram(
            "emining_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of its body), by method, route template "
            "and status code",
            ["method", "route", "status"], registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.seconds.labels(**labels).observe(seconds)


def instrument(app: Starlette, *groups: Iterable[Collector]) -> CollectorRegistry:
    """The process registry of an HTTP app (with ``groups``), kept as ``app.state.metrics``,
    and the middleware that measures and logs the app's requests into it."""
    registry = process_registry(*groups)
    app.state.metrics = registry
    app.add_middleware(ObservedRequests, metrics=HttpMetrics(registry))
    return registry


def route_template(scope: Scope) -> str:
    """The template of the route that answered (after the app ran), or ``UNMATCHED``."""
    if scope.get("route") is None or "app" not in scope:
        return UNMATCHED
    return route_path(Request(scope))


class ObservedRequests:
    """ASGI middleware: metrics of every HTTP request, a log line for every API read."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = route_template(scope)
            self.metrics.observe(method, route, status, seconds)
            if method == "GET" and scope["path"].startswith("/v1/"):
                _log_read(scope, route, status, seconds)


def _log_read(scope: Scope, route: str, status: int, seconds: float) -> None:
    """One line per API read: who (the admitted caller, if the policy got that far), what
    (route template and path, never the query string or a header), the answer and its time."""
    state: dict[str, Any] = scope.get("state") or {}
    principal = state.get("principal")
    tally = state.get(READ_TALLY)
    fields: dict[str, Any] = {
        "route": route, "path": scope["path"], "status": status,
        "duration_ms": round(seconds * 1000, 1),
        "org": getattr(principal, "org", None),
        "principal": getattr(principal, "subject", None),
    }
    if isinstance(tally, ReadTally) and tally.results is not None:
        fields["results"] = tally.results
    if route in _QUIET:
        log.debug("api_read", **fields)
    else:
        log.info("api_read", **fields)
