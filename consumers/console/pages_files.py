"""The console's pages for a signed-in person: the inbox (alerts, due dates) and the files —
projects, approvals (with their histories), shipments — as lists and one by one.

The data comes through ``consumers.api.shown_*``, which withhold restricted fields per row
exactly as the JSON API does.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency local to ``add_file_routes``.

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from consumers.access_http import Access
from consumers.alerts.store import AlertStore, recent_alerts
from consumers.api import shown_history, shown_one, shown_page
from consumers.console import charts, labels
from consumers.console.act import possible
from consumers.console.page import Page, PageOf, one_of, safe_cursor, safe_position
from consumers.console.pages_act import offered
from consumers.store import ViewStore
from consumers.store_read import MAX_LIMIT, get_view, list_approvals
from consumers.views.models import PENDING, ApprovalStatus, ShipmentStatus
from schemas.common import Mineral, Province
from schemas.events.projects import ProjectStage
from schemas.lifecycles import status_in
from schemas.registry import OrgRecord, Registry

DEADLINE_HORIZON = timedelta(days=120)
_FAMILY_PAGES = {"projects": "/projects/", "approvals": "/approvals/",
                 "shipments": "/shipments/"}


def add_file_routes(  # noqa: C901, PLR0915 - one small handler per page
    router: APIRouter, access: Callable[..., Awaitable[Access]], page: PageOf, *,
    store: ViewStore, alerts: AlertStore, registry: Callable[[], Registry],
    today: Callable[[], date], stream_path: str, topic_of: Mapping[str, str],
) -> None:
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

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
        chosen = {"province": one_of(province, Province), "mineral": one_of(mineral, Mineral),
                  "stage": one_of(stage, ProjectStage), "operator": (operator or "").strip(),
                  "q": (q or "").strip()}
        filters = {"province": chosen["province"], "status": chosen["stage"]}
        shown = await shown_page(caller, store, "projects", filters, limit=MAX_LIMIT,
                                 cursor=safe_cursor(cursor))
        items = [p for p in shown.items if _project_matches(here, p, chosen)]
        operators = sorted({p["operator_uscc"] for p in shown.items},
                            key=here.org_name)
        return here.render("projects.html", items=items, chosen=chosen,
                           next_cursor=shown.next_cursor, provinces=list(Province),
                           minerals=list(Mineral), stages=list(ProjectStage),
                           operators=operators)

    async def _timeline(caller: Access, subject: str, cursor: str | None) -> Any:
        return await shown_history(caller, store, subject, limit=200,
                                   cursor=safe_position(cursor))

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
                  "province": one_of(province, Province) or "",
                  "authority": authority if authority in registry().orgs else "",
                  "breached": breached == "1"}
        filters = {"kind": chosen["kind"] or None, "province": chosen["province"] or None,
                   "authority": chosen["authority"] or None}
        found = await list_approvals(store, filters, today=today(),
                                     status=[wanted] if wanted else [],
                                     breached=bool(chosen["breached"]), limit=MAX_LIMIT,
                                     cursor=safe_cursor(cursor))
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
        chosen = {"status": one_of(status, ShipmentStatus) or "", "on_hold": on_hold == "1"}
        filters = {"status": [chosen["status"]] if chosen["status"] else None,
                   "on_hold": True if chosen["on_hold"] else None}
        shown = await shown_page(caller, store, "shipments", filters, limit=MAX_LIMIT,
                                 cursor=safe_cursor(cursor))
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


async def _exists(store: ViewStore, family: str, subject: str) -> bool:
    return await get_view(store, family, subject) is not None


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
