"""The console's routes: HTML pages over the read API's own code paths, one policy.

Each page is a row of ``consumers.policy.ROUTES`` (``/`` and ``/login`` public, ``/inbox`` the
reader's own organisation, ``/projects``… every participant) and takes the same ``access``
dependency as the JSON API: the policy admits the caller before the handler runs, and the data
comes through ``consumers.api.shown_*`` and ``consumers.api_public.PublicData``, which withhold
restricted fields per row exactly as the API does. A refusal on a page is answered in HTML
(``install_error_pages``): not signed in → the sign-in page; not allowed → a page saying why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.access_http import Access
from consumers.alerts.store import AlertStore
from consumers.api_public import PublicData
from consumers.config import ViewTopics
from consumers.console.page import TAG, Page
from consumers.console.pages_act import Submit, add_act_routes
from consumers.console.pages_audit import StateAsOf, Verify, add_audit_routes
from consumers.console.pages_files import add_file_routes
from consumers.console.pages_public import add_public_routes
from consumers.console.pages_signin import add_signin_routes
from consumers.store import ViewStore
from consumers.views.standing import today_in_pakistan
from producers.accounts import AccountStore
from producers.authn import SESSION_COOKIE, request_session
from schemas.registry import Registry


def create_console_router(
    *, store: ViewStore, public: PublicData, alerts: AlertStore, accounts: AccountStore,
    registry: Callable[[], Registry], access: Callable[..., Awaitable[Access]],
    secure_cookie: bool = True, today: Callable[[], date] = today_in_pakistan,
    stream_path: str = "/v1/alerts/stream", submit: Submit | None = None,
    verify: Verify | None = None, state_as_of: StateAsOf | None = None,
) -> APIRouter:
    """The console's pages (mounted at the root by ``mount_console``), room by room: the
    public's (``pages_public``), signing in (``pages_signin``), a signed-in person's
    (``pages_files``), acting (``pages_act``) and the audit (``pages_audit``)."""
    router = APIRouter(tags=[TAG], include_in_schema=False)
    names = ViewTopics()
    topic_of = {"projects": names.projects, "approvals": names.approvals,
                "shipments": names.shipments}

    async def csrf_of(request: Request, caller: Access) -> str | None:
        token = request.cookies.get(SESSION_COOKIE)
        if caller.principal.method.value != "session" or not token:
            return None
        session = await request_session(request, accounts, token)
        return session.csrf if session else None

    async def page(request: Request, caller: Access) -> Page:
        return Page(request, caller, registry(), await csrf_of(request, caller))

    add_public_routes(router, access, page, public=public, topic_of=topic_of)
    add_signin_routes(router, access, page, accounts=accounts, secure_cookie=secure_cookie)
    add_file_routes(router, access, page, store=store, alerts=alerts, registry=registry,
                    today=today, stream_path=stream_path, topic_of=topic_of)
    add_act_routes(router, access, page, store=store, accounts=accounts, submit=submit,
                   today=today)
    add_audit_routes(router, access, page, public=public, verify=verify,
                     state_as_of=state_as_of, today=today)
    return router


def install_error_pages(app: FastAPI, registry: Callable[[], Registry]) -> None:
    """Refusals and misses on console pages answered as pages; the API's stay JSON."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        route = request.scope.get("route")
        if TAG not in getattr(route, "tags", ()):
            return await http_exception_handler(request, exc)
        if exc.status_code == 401:  # noqa: PLR2004
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse("/login?" + urlencode({"next": target}), 303)
            if SESSION_COOKIE in request.cookies:  # an ended session: forget it
                response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        here = Page(request, None, registry())
        return here.render("error.html", exc.status_code, code=exc.status_code,
                           detail=str(exc.detail))

    app.add_exception_handler(StarletteHTTPException, handler)


def mount_console(app: FastAPI, *, store: ViewStore, public: PublicData, alerts: AlertStore,
                  accounts: AccountStore, registry: Callable[[], Registry],
                  access: Callable[..., Awaitable[Access]], secure_cookie: bool = True,
                  today: Callable[[], date] = today_in_pakistan,
                  submit: Submit | None = None, verify: Verify | None = None,
                  state_as_of: StateAsOf | None = None) -> None:
    """The console at the app's root, with its error pages; ``submit`` publishes the acting
    forms through the gateway (``producers.gateway.submit``), None: the forms answer 503."""
    app.include_router(create_console_router(
        store=store, public=public, alerts=alerts, accounts=accounts, registry=registry,
        access=access, secure_cookie=secure_cookie, today=today, submit=submit,
        verify=verify, state_as_of=state_as_of))
    install_error_pages(app, registry)
