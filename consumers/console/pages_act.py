"""The console's acting pages: a form per step (``consumers.console.act``), posted with the
session's CSRF token, published through the gateway's custodial signing path, answered with its
receipt or with the gateway's refusal in the page's language.

Each route is a row of ``consumers.policy.ROUTES`` with ``acts=True`` (an agency's or a firm's
officer or manager): the policy admits the caller before the handler runs; ``may_act``
(``consumers.console.page``) asks the same policy whether to offer the forms at all.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency passed in by ``create_console_router``.

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from consumers.access_http import Access
from consumers.console.act import (
    FORMS,
    Context,
    Form,
    FormError,
    event_data,
    field_of,
    forms_for,
    possible,
    refusal_message,
)
from consumers.console.labels import N_
from consumers.console.page import PageOf, may_act
from consumers.store import ViewStore
from consumers.store_read import MAX_LIMIT, get_view, list_views
from producers.accounts import AccountStore
from producers.authn import SESSION_COOKIE, request_session
from producers.gateway_ingest import Answer, RefusedError
from producers.gateway_models import UnsignedEvent
from schemas.common import Role
from schemas.registry import OrgRecord

log = structlog.get_logger("consumers.console")

Submit = Callable[[str, str, UnsignedEvent], Awaitable[Answer]]
"""(organisation, person, event) → the gateway's answer; raises ``RefusedError``."""


def may_send(org: OrgRecord, ce_type: str) -> bool:
    """Does ``org`` hold a grant for ``ce_type`` now (the registry's authority, which the
    gateway checks again with the event's province and parties)?"""
    now = datetime.now(UTC)
    return any(g.valid_at(now) and g.covers_type(ce_type) for g in org.grants)


def offered(caller: Access | None) -> list[Form]:
    """The forms ``caller`` may fill in: none unless the policy lets them act."""
    if not may_act(caller):
        return []
    assert caller is not None
    org = caller.org
    return forms_for(org, lambda t: org is not None and may_send(org, t))


def _moment(text: str, zone: Any) -> datetime | None:
    """A ``datetime-local`` value read in the reader's zone; empty: now."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise FormError("event_time", N_("Give a date and time.")) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def add_act_routes(  # noqa: C901, PLR0915 - one small handler per page
    router: APIRouter, access: Callable[..., Awaitable[Access]],
    page: PageOf, *,
    store: ViewStore, accounts: AccountStore, submit: Submit | None,
    today: Callable[[], date],
) -> None:
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    def _form_of(caller: Access, key: str) -> Form:
        form = FORMS.get(key)
        if form is None:
            raise HTTPException(404, f"no form {key}")
        if form not in offered(caller):
            raise HTTPException(403, f"{caller.principal.org} holds no authority to send "
                                f"{form.type}")
        return form

    async def _file(form: Form, ref: str | None) -> dict[str, Any] | None:
        if form.answers is None:
            return None
        found = await get_view(store, "approvals", ref) if ref else None
        if found is None or found.get("kind") != form.answers:
            raise HTTPException(404, f"no {form.answers} file {ref} to answer")
        return found

    async def _choices(caller: Access, form: Form) -> dict[str, list[tuple[str, str]]]:
        """Options of the form's selects that come from the views or the registry."""
        org = caller.org
        assert org is not None
        out: dict[str, list[tuple[str, str]]] = {}
        names = {"project_id": "projects", "shipment_id": "shipments"}
        for item in form.fields:
            if item.kind != "select" or item.choices:
                continue
            if item.name in names:
                found = await list_views(store, names[item.name],
                                         {"party": sorted(org.party_ids)}, limit=MAX_LIMIT)
                key = "project_id" if item.name == "project_id" else "shipment_id"
                out[item.name] = [(str(d[key]), str(d[key])) for d in found.items]
            elif item.name == "licensing_authority":
                out[item.name] = sorted(
                    ((o.id, str(o.names.get("en") or o.id)) for o in caller.registry.orgs.values()
                     if o.role is Role.AGENCY and may_send(o, "pk.emining.approval.licence."
                                                           "granted")), key=lambda p: p[1])
        return out

    async def _person(request: Request, caller: Access) -> str:
        token = request.cookies.get(SESSION_COOKIE)
        session = await request_session(request, accounts, token) if token else None
        return session.user.name if session else caller.principal.subject

    async def _render(request: Request, caller: Access, form: Form, file: Any,
                      values: dict[str, str], status: int = 200, **more: Any) -> HTMLResponse:
        here = await page(request, caller)
        return here.render("act.html", status, form=form, file=file, values=values,
                           choices=await _choices(caller, form),
                           person=await _person(request, caller), **more)

    @router.get("/act", response_class=HTMLResponse)
    async def act_index(request: Request, caller: Caller) -> HTMLResponse:
        here = await page(request, caller)
        org = caller.org
        files: list[dict[str, Any]] = []
        if org is not None and org.role is Role.AGENCY:
            found = await list_views(store, "approvals", {"authority": org.id,
                                                          "status": ["received", "acknowledged",
                                                                     "resubmitted", "filed"]},
                                     limit=MAX_LIMIT)
            files = found.items
        return here.render("act_index.html", forms=offered(caller), files=files,
                           possible=possible)

    @router.get("/act/{form}", response_class=HTMLResponse)
    async def act_form(request: Request, caller: Caller, form: str,
                       ref: str | None = None) -> HTMLResponse:
        chosen = _form_of(caller, form)
        file = await _file(chosen, ref)
        assert caller.org is not None
        values = chosen.defaults(Context(caller.org, today(), file))
        values["event_id"] = str(uuid.uuid4())
        return await _render(request, caller, chosen, file, values)

    @router.post("/act/{form}", response_class=HTMLResponse)
    async def act_post(request: Request, caller: Caller, form: str) -> HTMLResponse:
        # The session's CSRF token was checked by the authenticator (a POST with the cookie).
        chosen = _form_of(caller, form)
        posted = {k: str(v) for k, v in (await request.form()).items()}
        file = await _file(chosen, posted.get("ref"))
        org = caller.org
        assert org is not None
        event_id = posted.get("event_id") or str(uuid.uuid4())
        posted["event_id"] = event_id
        here = await page(request, caller)
        try:
            data = event_data(chosen, posted, Context(org, today(), file))
            moment = _moment(posted.get("event_time", ""), here.fmt.zone)
        except FormError as exc:
            return await _render(request, caller, chosen, file, posted, 400,
                                 problems={exc.field: [exc.message]}, translate_problems=True)
        if submit is None:
            raise HTTPException(503, "this server publishes nothing: the gateway is not wired")
        try:
            event = UnsignedEvent(type=chosen.type, data=data, id=event_id, time=moment)
        except ValidationError as exc:
            return await _render(request, caller, chosen, file, posted, 400,
                                 problems={"event_time": [str(exc.errors()[0]["msg"])]})
        person = await _person(request, caller)
        try:
            answer = await submit(org.id, caller.principal.subject, event)
        except RefusedError as exc:
            problems: dict[str, list[str]] = {}
            general: list[str] = []
            if isinstance(exc.detail, list):
                for problem in exc.detail:
                    name = field_of(chosen, list(problem.get("loc", [])))
                    if name is None and problem.get("loc", [])[-1:] == ["time"]:
                        name = "event_time"
                    if name is None:
                        general.append(str(problem.get("msg")))
                    else:
                        problems.setdefault(name, []).append(str(problem.get("msg")))
            else:
                general.append(str(exc.detail))
            reason = exc.reason
            if reason == "invalid" and isinstance(exc.detail, list) and any(
                    p.get("type") == "time_skew" for p in exc.detail):
                reason = "time_skew"
            status = exc.status if exc.status != 422 else 400  # noqa: PLR2004
            return await _render(request, caller, chosen, file, posted, status,
                                 refusal=refusal_message(reason, exc.status), reason=reason,
                                 gateway_status=exc.status, problems=problems, general=general)
        log.info("console_acted", person=caller.principal.subject, form=chosen.key,
                 event_id=answer.body.get("id"))
        subject = str(data.get(_subject_field(chosen)) or "")
        return here.render("receipt.html",
                           form=chosen, receipt=answer.body, repeated=answer.status != 202,  # noqa: PLR2004
                           person=person, subject=subject,
                           subject_link="/go/" + quote(subject, safe=""))


def _subject_field(form: Form) -> str:
    from schemas.catalogue import model_for  # noqa: PLC0415 - the catalogue is large

    return str(model_for(form.type).SUBJECT_FIELD)
