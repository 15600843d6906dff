"""The policy at the HTTP edge: one dependency on every route decides, before any handler runs.

``access_dependency`` turns the caller into a ``Principal`` (whatever authenticator the app
uses), looks up the matched route's rule in ``consumers.policy.ROUTES`` and refuses with 401/403,
or hands the handler an ``Access``: who is asking and which rows' restricted fields they see.
"""

# No ``from __future__ import annotations``: FastAPI reads the dependencies' annotations at
# run time, and they name callables local to the functions that build them.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from consumers.policy import (
    ROUTES,
    Audience,
    Refusal,
    Row,
    Rule,
    admit,
    entitled,
    redact_entry,
    redact_view,
    row_of,
    rule_for,
    subject_of,
    visible,
    visible_parties,
)
from consumers.readlog import ReadLog
from consumers.views.declare import Visibility
from consumers.views.registry import BY_NAME
from schemas.access import Principal
from schemas.registry import OrgRecord, Registry

log = structlog.get_logger("consumers.access")

PrincipalOf = Callable[..., Awaitable[Principal]]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="emining"'}


READ_TALLY = "read_tally"
"""The request state's key of the ``ReadTally`` of the request (the read log line reads it)."""


@dataclass(slots=True)
class ReadTally:
    """How many documents or timeline entries one request's answer shows (``None``: none was
    counted, the route does not read through ``Access``)."""

    results: int | None = None

    def add(self, count: int) -> None:
        self.results = (self.results or 0) + count


@dataclass(frozen=True, slots=True)
class Access:
    """The admitted caller of one request."""

    principal: Principal
    org: OrgRecord | None
    rule: Rule
    route: str
    registry: Registry
    reads: ReadLog | None
    tally: ReadTally = field(default_factory=ReadTally)

    def sees(self, row: Row) -> bool:
        return entitled(self.org, row)

    def finds(self, family: str, doc: dict[str, Any]) -> bool:
        """May this caller see the row at all (a parties-only view's row: its parties)?"""
        return visible(self.org, row_of(family, doc))

    def narrows(self, family: str) -> frozenset[str] | None:
        """The parties whose rows of ``family`` a list may be narrowed to in the store."""
        return visible_parties(self.org, family)

    def keeps(self, family: str) -> Callable[[dict[str, Any]], bool] | None:
        """What a list of ``family`` keeps (``finds``); None: every row (a shared view)."""
        if BY_NAME[family].visibility is Visibility.SHARED:
            return None
        return lambda doc: self.finds(family, doc)

    async def views(self, family: str, docs: list[dict[str, Any]]) -> tuple[
            list[dict[str, Any]], dict[str, list[str]]]:
        """``docs`` as this caller may see them (rows it may not see left out), and per subject
        the paths withheld. What is shown of restricted fields is recorded in the read log,
        and so is every row of a parties-only view (``*`` when it shows no restricted field:
        its other fields are the parties' business too)."""
        out: list[dict[str, Any]] = []
        withheld: dict[str, list[str]] = {}
        shown: dict[str, list[str]] = {}
        docs = [d for d in docs if self.finds(family, d)]
        private = BY_NAME[family].visibility is Visibility.PARTIES
        self.tally.add(len(docs))
        for doc in docs:
            redacted, paths = redact_view(family, doc)
            if self.sees(row_of(family, doc)):
                out.append(doc)
                if paths or private:
                    shown[subject_of(family, doc)] = paths or ["*"]
            else:
                out.append(redacted)
                if paths:
                    withheld[subject_of(family, doc)] = paths
        await self._revealed(shown)
        return out, withheld

    async def entries(self, subject: str, row: Row | None, items: list[dict[str, Any]]) -> tuple[
            list[dict[str, Any]], list[str]]:
        """Timeline items as this caller may see them (``row``: the subject's view, if any)."""
        out, paths = [], set()
        self.tally.add(len(items))
        for item in items:
            redacted, found = redact_entry(item)
            out.append(redacted)
            paths.update(found)
        if row is not None and self.sees(row):
            await self._revealed({subject: sorted(paths)})
            return items, []
        return out, sorted(paths)

    async def _revealed(self, shown: dict[str, list[str]]) -> None:
        shown = {k: v for k, v in shown.items() if v}
        if self.reads is not None and shown:
            await self.reads.record(self.principal, self.route, list(shown),
                                    sorted({p for v in shown.values() for p in v}))


def route_path(request: Request) -> str:
    """The matched route's full path template (``/v1/shipments/{shipment_id}``).

    FastAPI keeps an included router's own route object in ``scope["route"]``, whose path lacks
    the prefix it was included with: the app's route contexts give the effective template.
    """
    state = request.app.state
    paths: dict[int, str] | None = getattr(state, "route_paths", None)
    if paths is None:
        paths = {id(ctx.original_route): str(ctx.path_format)
                 for ctx in iter_route_contexts(request.app.routes) if ctx.path_format}
        state.route_paths = paths
    route = request.scope.get("route")
    return paths.get(id(route), str(getattr(route, "path", request.url.path)))


def access_dependency(
    principal_of: PrincipalOf, registry: Callable[[], Registry], reads: ReadLog | None,
    refresh: Callable[[], Awaitable[None]] | None = None,
    loaded: Callable[[], bool] = lambda: True,
) -> Callable[..., Awaitable[Access]]:
    """The dependency every router of the app carries (``include_router(dependencies=...)``).

    ``refresh`` re-reads the registry (rate-limited by its owner): an organisation onboarded a
    moment ago is not refused until the next periodic refresh.
    """

    async def admitted(principal: Principal, method: str, path: str) -> OrgRecord | None:
        rule = rule_for(method, path)
        try:
            return admit(rule, principal, registry(), method, path)
        except Refusal:
            if refresh is None or principal.org is None or principal.org in registry().orgs:
                raise
        await refresh()
        if not loaded():
            raise HTTPException(503, "the broker is unreachable or the participants registry has "
                                "not been read from the log yet, so no organisation can be "
                                "recognised; nothing was signed or sent: try again later")
        return admit(rule, principal, registry(), method, path)

    async def access(request: Request,
                     principal: Annotated[Principal, Depends(principal_of)]) -> Access:
        path, method = route_path(request), request.method
        rule = rule_for(method, path)
        try:
            org = await admitted(principal, method, path)
        except Refusal as refusal:
            log.warning("request_refused", method=method, route=path, org=principal.org,
                        principal=principal.subject, status=refusal.status,
                        reason=refusal.detail)
            headers = _CHALLENGE if refusal.status == 401 else None  # noqa: PLR2004
            raise HTTPException(refusal.status, refusal.detail, headers=headers) from None
        assert rule is not None
        request.state.principal = principal
        admitted_access = Access(principal, org, rule, path, registry(), reads)
        setattr(request.state, READ_TALLY, admitted_access.tally)
        return admitted_access

    return access


def unruled(routes: list[BaseRoute]) -> list[str]:
    """Routes of an app that the policy does not cover: each one a mistake to fix."""
    return [f"{method} {ctx.path_format}" for ctx in iter_route_contexts(routes)
            for method in sorted(ctx.methods or ())
            if method != "HEAD" and (method, ctx.path_format) not in ROUTES]



_REFUSALS = {
    "401": {"description": "Not signed in: no session, API key or token, or one not valid."},
    "403": {"description": "Signed in, but the access policy does not let this caller (its "
                           "organisation's role, or its own role) use this route."},
}


def document_policy(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the policy in it: public operations take no credential
    (``security: [{}]`` plus the optional schemes), the others document 401 and 403, and every
    operation names its audience and roles in ``x-emining-access``."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            rule = rule_for(method.upper(), path)
            if rule is None or not isinstance(operation, dict):
                continue
            operation["x-emining-access"] = {
                "audience": rule.audience.value,
                "roles": sorted(r.value for r in rule.roles)}
            if rule.audience is Audience.PUBLIC:
                operation["security"] = [{}, *operation.get("security", [])]
                continue
            responses = operation.setdefault("responses", {})
            for status, answer in _REFUSALS.items():
                responses.setdefault(status, answer)
    return schema
