"""The console's routes: HTML pages over the read API's own code paths, one policy.

Each page is a row of ``consumers.policy.ROUTES`` (``/`` and ``/login`` public, ``/inbox`` the
reader's own organisation, ``/projects``… every participant) and takes the same ``access``
dependency as the JSON API: the policy admits the caller before the handler runs, and the data
comes through ``consumers.api.shown_*`` and ``consumers.api_public.PublicData``, which withhold
restricted fields per row exactly as the API does. A refusal on a page is answered in HTML
(``install_error_pages``): not signed in → the sign-in page; not allowed → a page saying why.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency local to ``create_console_router``.

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from consumers.access_http import Access
from consumers.alerts.store import AlertStore, recent_alerts
from consumers.api import Shown, shown_history, shown_one, shown_page
from consumers.api_public import PublicData
from consumers.config import ViewTopics
from consumers.console import charts, labels
from consumers.console.act import possible
from consumers.console.i18n import (
    LANGS,
    Formats,
    Lang,
    from_accept_language,
    lang_of,
    term,
    zone_for,
)
from consumers.console.i18n import translations as catalogue
from consumers.console.pages_act import Submit, add_act_routes, allowed, may_act, offered
from consumers.console.pages_audit import StateAsOf, Verify, add_audit_routes
from consumers.store import ViewStore
from consumers.store_read import MAX_LIMIT, get_view, list_approvals
from consumers.views.models import PENDING, ApprovalStatus, ShipmentStatus
from consumers.views.standing import today_in_pakistan
from producers.accounts import AccountStore, LockedError
from producers.auth_routes import Credentials, set_session_cookie
from producers.authn import SESSION_COOKIE, request_session
from schemas.common import Mineral, Province
from schemas.events.projects import ProjectStage
from schemas.lifecycles import status_in
from schemas.registry import OrgRecord, Registry

HERE = Path(__file__).parent
STATIC = HERE / "static"
LANG_COOKIE = "emining_lang"
LOGIN_CSRF_COOKIE = "emining_login_csrf"
TAG = "console"
"""Every console route carries this tag: its refusals are answered as pages."""
SECURITY_HEADERS = {
    # Nothing inline, nothing from elsewhere: the pages' CSS, script and font are served here.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
DEADLINE_HORIZON = timedelta(days=120)
_FAMILY_PAGES = {"projects": "/projects/", "approvals": "/approvals/",
                 "shipments": "/shipments/"}


def _environment(lang: Lang) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(catalogue(lang.catalogue),  # type: ignore[attr-defined]
                                     newstyle=True)
    return env


_ENVIRONMENTS: dict[str, Environment] = {}


def environment(lang: Lang) -> Environment:
    """One Jinja2 environment per language (its catalogue installed), built once."""
    if lang.code not in _ENVIRONMENTS:
        _ENVIRONMENTS[lang.code] = _environment(lang)
    return _ENVIRONMENTS[lang.code]


def choose_language(request: Request, org: OrgRecord | None) -> tuple[Lang, bool]:
    """``?lang=`` (remembered in a cookie), else the cookie, else the signed-in organisation's
    preferred language (the registry), else the browser's, else English. Second: remember it."""
    asked = lang_of(request.query_params.get("lang"))
    if asked is not None:
        return asked, True
    kept = lang_of(request.cookies.get(LANG_COOKIE))
    if kept is not None:
        return kept, False
    if org is not None:
        return LANGS[org.language.value], False
    return from_accept_language(request.headers.get("accept-language")) or LANGS["en"], False


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a URL)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/inbox"


class Page:
    """What every template gets: the language, formats, the reader, links in other languages."""

    def __init__(self, request: Request, caller: Access | None, registry: Registry,
                 csrf: str | None = None) -> None:
        self.request = request
        self.caller = caller
        self.org = caller.org if caller else None
        self.lang, self.remember = choose_language(request, self.org)
        self.fmt = Formats(self.lang, zone_for(self.org.side if self.org else None))
        self.registry = registry
        self.csrf = csrf
        self._by_party: dict[str, OrgRecord] | None = None

    @property
    def signed_in(self) -> bool:
        return self.caller is not None and not self.caller.principal.anonymous

    @property
    def audits(self) -> bool:
        """May the reader open the audit pages (the policy's rule of ``/audit``)?"""
        return allowed(self.caller, "GET", "/audit")

    @property
    def acts(self) -> bool:
        """May the reader act from the console (the policy's rule of the forms)?"""
        return may_act(self.caller)

    def org_name(self, party: str | None) -> str:
        """An organisation's name in the page's language, from its URN, USCC or source."""
        if not party:
            return ""
        if self._by_party is None:
            self._by_party = {pid: o for o in self.registry.orgs.values() for pid in o.party_ids}
        org = self._by_party.get(party.split("/", 1)[0])
        if org is None:
            return party
        return str(org.names.get(self.lang.code) or org.names.get("en") or party)

    def names(self, names: Mapping[str, Any] | None) -> str:
        if not names:
            return ""
        return str(names.get(self.lang.code) or names.get("en") or "")

    def link(self, **changes: str | None) -> str:
        """This page's address with some query parameters changed (None: removed)."""
        params = dict(self.request.query_params.items())
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return f"{self.request.url.path}?{urlencode(params)}" if params else self.request.url.path

    def lang_link(self, code: str) -> str:
        return self.link(lang=code, cursor=None)

    def context(self, **values: Any) -> dict[str, Any]:
        return {"page": self, "lang": self.lang, "langs": LANGS, "fmt": self.fmt,
                "term": lambda table, code: term(table, code, self.lang),
                "label": labels.label, "L": labels, "path": self.request.url.path, **values}

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = environment(self.lang).get_template(template).render(self.context(**values))
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if self.remember:
            response.set_cookie(LANG_COOKIE, self.lang.code, max_age=365 * 86400,
                                samesite="lax", httponly=True, path="/")
        return response


def create_console_router(  # noqa: C901, PLR0915 - one small handler per page
    *, store: ViewStore, public: PublicData, alerts: AlertStore, accounts: AccountStore,
    registry: Callable[[], Registry], access: Callable[..., Awaitable[Access]],
    secure_cookie: bool = True, today: Callable[[], date] = today_in_pakistan,
    stream_path: str = "/v1/alerts/stream", submit: Submit | None = None,
    verify: Verify | None = None, state_as_of: StateAsOf | None = None,
) -> APIRouter:
    """The console's pages (mounted at the root by ``mount_console``)."""
    router = APIRouter(tags=[TAG], include_in_schema=False)
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias
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

    # -- the public ----------------------------------------------------------------------------

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)
        return here.render("public.html", licences=await public.licences(),
                           lead_times=await public.lead_times())

    @router.get("/lead-times", response_class=HTMLResponse)
    async def lead_time_charts(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)

        def category(kind: str, code: str) -> str:
            return term("title_type", code, here.lang) if kind == "title" else code.replace(
                "_", " ")

        drawn = charts.charts(await public.lead_times(), here.org_name, category,
                              rtl=here.lang.rtl)
        return here.render("lead_times.html", charts=drawn, colours=charts)

    @router.get("/events/{ref}", response_class=HTMLResponse)
    async def public_events(request: Request, caller: Caller, ref: str,
                            cursor: str | None = None) -> HTMLResponse:
        found = await public.timeline(caller, ref, limit=100, cursor=_position(cursor))
        if found is None:
            raise HTTPException(404, f"no licence or approval {ref} on the public record")
        items, next_cursor, withheld = found
        here = await page(request, caller)
        return here.render("events.html", ref=ref, history=Shown(items, next_cursor, withheld),
                           topic_of=topic_of)

    @router.get("/static/{name:path}")
    async def static(_: Caller, name: str) -> FileResponse:
        path = (STATIC / name).resolve()
        if not path.is_file() or STATIC.resolve() not in path.parents:
            raise HTTPException(404, "no such file")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})

    # -- signing in ----------------------------------------------------------------------------

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, caller: Caller, next: str | None = None,  # noqa: A002
                         ) -> Response:
        if not caller.principal.anonymous:
            return RedirectResponse(_safe_next(next), 303)
        return _login_page(await page(request, caller), _safe_next(next))

    def _login_page(here: Page, goto: str, error: str | None = None,
                    status: int = 200) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = here.render("login.html", status, next=goto, login_csrf=token, error=error)
        # Double submit: the form's token must equal this cookie, which another site can
        # neither read nor set, so no page elsewhere can sign a browser in as someone else.
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure_cookie, path="/login", max_age=3600)
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, caller: Caller) -> Response:
        form = await request.form()
        goto = _safe_next(str(form.get("next") or ""))
        here = await page(request, caller)
        sent, kept = str(form.get("csrf_token") or ""), request.cookies.get(LOGIN_CSRF_COOKIE)
        if not kept or not hmac.compare_digest(sent, kept):
            return _login_page(here, goto, "expired", 400)
        try:
            given = Credentials.model_validate({"username": form.get("username"),
                                                "password": form.get("password")})
        except ValidationError:
            return _login_page(here, goto, "wrong", 401)
        address = request.client.host if request.client else "unknown"
        try:
            session = await accounts.sign_in(given.username, given.password, address)
        except LockedError as exc:
            answer = _login_page(here, goto, "locked", 429)
            answer.headers["Retry-After"] = str(exc.retry_after_s)
            return answer
        if session is None:
            return _login_page(here, goto, "wrong", 401)
        response = RedirectResponse(goto, 303)
        set_session_cookie(response, session.token, secure=secure_cookie,
                           max_age=int(accounts.limits.absolute.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, _: Caller) -> RedirectResponse:
        # The session's CSRF token was checked by the authenticator (a POST with the cookie).
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await accounts.sign_out(token)
        response = RedirectResponse("/", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- a signed-in person --------------------------------------------------------------------

    @router.get("/inbox", response_class=HTMLResponse)
    async def inbox(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)
        org = caller.org
        assert org is not None  # the rule (own_org) admits members of an organisation only
        async with alerts.reading() as conn:
            found = await recent_alerts(conn, org.id, limit=50)
        deadlines = await _deadlines(caller, org)
        return here.render("inbox.html", alerts=found, deadlines=deadlines,
                           stream=f"{stream_path}?lang={here.lang.code}")

    async def _deadlines(caller: Access, org: OrgRecord) -> list[dict[str, Any]]:
        """The open due dates of the files this organisation holds or decides, overdue first."""
        if org.role.value == "agency":
            filters: dict[str, Any] = {"authority": org.id}
        elif org.uscc:
            filters = {"party": sorted(org.party_ids)}
        else:
            return []
        day = today()
        found = await list_approvals(store, filters, today=day, limit=MAX_LIMIT)
        shown = await shown_page(caller, store, "approvals", filters, limit=MAX_LIMIT,
                                 cursor=None, found=found)
        rows = []
        for doc in shown.items:
            dues = dict(doc.get("due") or {})
            if doc.get("standard_due_on") and doc.get("status") in PENDING:
                dues["standard_due_on"] = doc["standard_due_on"]
            for name, on in dues.items():
                when = date.fromisoformat(str(on)[:10])
                if when <= day + DEADLINE_HORIZON:
                    rows.append({"ref": doc["ref"], "kind": doc["kind"], "name": name,
                                 "on": when, "overdue": when < day,
                                 "status": doc.get("effective_status") or doc.get("status")})
        return sorted(rows, key=lambda r: (r["on"], r["ref"], r["name"]))[:100]

    @router.get("/projects", response_class=HTMLResponse)
    async def projects(request: Request, caller: Caller, province: str | None = None,
                       mineral: str | None = None, stage: str | None = None,
                       operator: str | None = None, q: str | None = None,
                       cursor: str | None = None) -> HTMLResponse:
        here = await page(request, caller)
        chosen = {"province": _one_of(province, Province), "mineral": _one_of(mineral, Mineral),
                  "stage": _one_of(stage, ProjectStage), "operator": (operator or "").strip(),
                  "q": (q or "").strip()}
        filters = {"province": chosen["province"], "status": chosen["stage"]}
        shown = await shown_page(caller, store, "projects", filters, limit=MAX_LIMIT,
                                 cursor=_cursor(cursor))
        items = [p for p in shown.items if _project_matches(here, p, chosen)]
        operators = sorted({p["operator_uscc"] for p in shown.items},
                            key=here.org_name)
        return here.render("projects.html", items=items, chosen=chosen,
                           next_cursor=shown.next_cursor, provinces=list(Province),
                           minerals=list(Mineral), stages=list(ProjectStage),
                           operators=operators)

    async def _timeline(caller: Access, subject: str, cursor: str | None) -> Any:
        return await shown_history(caller, store, subject, limit=200, cursor=_position(cursor))

    @router.get("/projects/{project_id}", response_class=HTMLResponse)
    async def project(request: Request, caller: Caller, project_id: str,
                      cursor: str | None = None) -> HTMLResponse:
        found = await shown_one(caller, store, "projects", project_id, today())
        if found is None:
            raise HTTPException(404, f"no project {project_id} in the views")
        item, withheld = found
        approvals = await shown_page(caller, store, "approvals", {"project_id": project_id},
                                     limit=MAX_LIMIT, cursor=None,
                                     found=await list_approvals(
                                         store, {"project_id": project_id}, today=today(),
                                         limit=MAX_LIMIT))
        here = await page(request, caller)
        return here.render("project.html", item=item, withheld=withheld,
                           approvals=approvals.items,
                           history=await _timeline(caller, project_id, cursor),
                           topic_of=topic_of)

    @router.get("/approvals", response_class=HTMLResponse)
    async def approvals(request: Request, caller: Caller, status: str | None = "pending",
                        kind: str | None = None, province: str | None = None,
                        authority: str | None = None, breached: str | None = None,
                        cursor: str | None = None) -> HTMLResponse:
        here = await page(request, caller)
        wanted = status if status in labels.APPROVAL_STATUSES else None
        chosen = {"status": wanted or "", "kind": kind if kind in labels.APPROVAL_KINDS else "",
                  "province": _one_of(province, Province) or "",
                  "authority": authority if authority in registry().orgs else "",
                  "breached": breached == "1"}
        filters = {"kind": chosen["kind"] or None, "province": chosen["province"] or None,
                   "authority": chosen["authority"] or None}
        found = await list_approvals(store, filters, today=today(),
                                     status=[wanted] if wanted else [],
                                     breached=bool(chosen["breached"]), limit=MAX_LIMIT,
                                     cursor=_cursor(cursor))
        shown = await shown_page(caller, store, "approvals", filters, limit=MAX_LIMIT,
                                 cursor=None, found=found)
        authorities = sorted((o for o in registry().orgs.values() if o.role.value == "agency"),
                             key=lambda o: here.org_name(o.id))
        return here.render("approvals.html", items=shown.items, chosen=chosen,
                           next_cursor=shown.next_cursor, provinces=list(Province),
                           statuses=["pending", *[s.value for s in ApprovalStatus]],
                           authorities=authorities, as_of=today())

    @router.get("/approvals/{ref}", response_class=HTMLResponse)
    async def approval(request: Request, caller: Caller, ref: str,
                       cursor: str | None = None) -> HTMLResponse:
        found = await shown_one(caller, store, "approvals", ref, today())
        if found is None:
            raise HTTPException(404, f"no approval {ref} in the views")
        item, withheld = found
        here = await page(request, caller)
        answers = [f for f in offered(caller) if f.answers == item.get("kind")
                   and possible(f, status_in(item))]
        return here.render("approval.html", item=item, withheld=withheld,
                           history=await _timeline(caller, item["ref"], cursor),
                           topic_of=topic_of, answers=answers)

    @router.get("/approvals/{ref}/history", response_class=HTMLResponse)
    async def approval_history(request: Request, caller: Caller, ref: str) -> HTMLResponse:
        found = await shown_one(caller, store, "approvals", ref, today())
        if found is None:
            raise HTTPException(404, f"no approval {ref} in the views")
        item, _ = found
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:  # the whole history: a file has tens of events, not thousands
            shown = await shown_history(caller, store, item["ref"], limit=500, cursor=cursor)
            items += shown.items
            cursor = shown.next_cursor
            if cursor is None:
                break
        day = today()
        here = await page(request, caller)
        return here.render("history.html", item=item, stays=charts.stays(items),
                           spent=charts.time_in_state(item, day), as_of=day,
                           now=datetime(day.year, day.month, day.day, tzinfo=UTC))

    @router.get("/shipments", response_class=HTMLResponse)
    async def shipments(request: Request, caller: Caller, status: str | None = None,
                        on_hold: str | None = None, cursor: str | None = None) -> HTMLResponse:
        here = await page(request, caller)
        chosen = {"status": _one_of(status, ShipmentStatus) or "", "on_hold": on_hold == "1"}
        filters = {"status": [chosen["status"]] if chosen["status"] else None,
                   "on_hold": True if chosen["on_hold"] else None}
        shown = await shown_page(caller, store, "shipments", filters, limit=MAX_LIMIT,
                                 cursor=_cursor(cursor))
        return here.render("shipments.html", items=shown.items, withheld=shown.withheld,
                           chosen=chosen, next_cursor=shown.next_cursor,
                           statuses=[s.value for s in ShipmentStatus])

    @router.get("/shipments/{shipment_id}", response_class=HTMLResponse)
    async def shipment(request: Request, caller: Caller, shipment_id: str,
                       cursor: str | None = None) -> HTMLResponse:
        found = await shown_one(caller, store, "shipments", shipment_id, today())
        if found is None:
            raise HTTPException(404, f"no shipment {shipment_id} in the views")
        item, withheld = found
        here = await page(request, caller)
        return here.render("shipment.html", item=item, withheld=withheld,
                           history=await _timeline(caller, shipment_id, cursor),
                           topic_of=topic_of)

    @router.get("/go/{subject}")
    async def go(_: Caller, subject: str) -> RedirectResponse:
        """An alert's or deadline's subject, whatever kind it is: to its page."""
        for family, prefix in _FAMILY_PAGES.items():
            if await _exists(store, family, subject):
                return RedirectResponse(prefix + quote(subject, safe=""), 303)
        raise HTTPException(404, f"nothing called {subject} in the views")

    add_act_routes(router, access, page, store=store, accounts=accounts, submit=submit,
                   today=today)
    add_audit_routes(router, access, page, public=public, verify=verify,
                     state_as_of=state_as_of, today=today)
    return router


async def _exists(store: ViewStore, family: str, subject: str) -> bool:
    return await get_view(store, family, subject) is not None


def _one_of(value: str | None, choices: Iterable[Any]) -> str | None:
    """A filter value if it is one of ``choices`` (an enumeration), else no filter."""
    return value if value and value in {str(c.value) for c in choices} else None


def _cursor(value: str | None) -> str | None:
    return value if value and len(value) <= 200 and value.isprintable() else None  # noqa: PLR2004


def _position(value: str | None) -> str | None:
    return value if value and value.isdigit() and len(value) <= 18 else None  # noqa: PLR2004


def _project_matches(here: Page, item: Mapping[str, Any], chosen: Mapping[str, Any]) -> bool:
    if chosen["mineral"] and chosen["mineral"] not in item.get("minerals", ()):
        return False
    if chosen["operator"] and chosen["operator"] != item.get("operator_uscc"):
        return False
    text = str(chosen["q"]).casefold()
    if text:
        names = item.get("names") or {}
        haystack = " ".join([item["project_id"], *map(str, names.values()),
                             here.org_name(item.get("operator_uscc")),
                             str(item.get("district") or "")]).casefold()
        return text in haystack
    return True


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
