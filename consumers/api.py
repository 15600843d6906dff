"""The read API of the views: projects, approvals, shipments and timelines, each with freshness.

Mounted under ``/v1`` by ``infra.compose.app``. Lists are keyset-paginated: pass the answer's
``next_cursor`` as ``cursor`` for the next page. Every answer carries ``freshness``, per topic and
partition the last offset applied to the views, the log's end offset and the lag between them.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency local to ``create_views_router``.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from consumers.access_http import Access
from consumers.freshness import Freshness, FreshnessReport
from consumers.policy import Row, row_of
from consumers.store import ViewStore
from consumers.store_read import (
    MAX_LIMIT,
    Page,
    get_view,
    list_approvals,
    list_views,
    offsets,
    statuses,
    timeline,
)
from consumers.views.models import (
    ApprovalKind,
    ApprovalStatus,
    ApprovalView,
    ProjectView,
    ShipmentStatus,
    ShipmentView,
)
from consumers.views.standing import today_in_pakistan, with_standing
from schemas.common import Province
from schemas.events.projects import ProjectKind, ProjectStage

T = TypeVar("T")

ApprovalFilter = StrEnum(  # type: ignore[misc]  # built from the statuses: no second list
    "ApprovalFilter", [("PENDING", "pending"), *((s.name, s.value) for s in ApprovalStatus)])
"""An approval status to filter on, or ``pending``: every status awaiting a decision."""

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(
    min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$",
    description="``next_cursor`` of the previous page")]
Position = Annotated[str | None, Query(
    pattern=r"^[0-9]{1,18}$", description="``next_cursor`` of the previous page")]
"""A timeline's cursor: a position, digits only and small enough for any database."""


_WITHHELD = ("restricted fields left out of this answer (personal data, commercial terms: "
             "only the subject's parties, competent agencies and auditors see them)")


class ListAnswer(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    freshness: FreshnessReport
    withheld: dict[str, list[str]] = Field(default_factory=dict, description="subject → "
                                           + _WITHHELD)


class ItemAnswer(BaseModel, Generic[T]):
    item: T
    freshness: FreshnessReport
    withheld: list[str] = Field(default_factory=list, description=_WITHHELD)


class ApprovalItem(ApprovalView):
    """An approval as stored, with its standing on the day it is read (never stored)."""

    as_of: date
    """The day (in Pakistan) the read-time fields below are computed for."""
    effective_status: ApprovalStatus | None
    """``status``, except an environmental filing undecided on its ``deemed_approval_on``:
    ``deemed_approved`` by law."""
    days_pending: int | None
    """Whole days since receipt while awaiting a decision, else ``null``."""
    breached: bool
    """Still pending after ``standard_due_on``."""


class TimelineItem(BaseModel):
    subject: str
    position: int
    family: str
    event_id: str
    source: str
    type: str
    time: str
    summary: str
    data: dict[str, Any]
    """The event data as signed."""
    effective: dict[str, Any] | None
    """As it now counts after corrections; ``null`` if a correction says it did not occur."""
    superseded_by: str | None
    corrects: str | None
    partition: int
    offset: int


class TimelineAnswer(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None
    freshness: FreshnessReport
    withheld: list[str] = Field(default_factory=list, description=_WITHHELD)


def create_views_router(  # noqa: C901 - one small nested handler per route
    store: ViewStore, freshness: Freshness, access: Callable[..., Awaitable[Access]],
    today: Callable[[], date] = today_in_pakistan,
) -> APIRouter:
    """Routes reading ``store``; ``freshness`` asks the broker how far the log has gone;
    ``access`` admits the caller (``consumers.access_http``) and says what it may see;
    ``today`` is the day approvals' standing is computed for (days pending, breach, deemed)."""
    router = APIRouter(tags=["views"])
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    async def fresh() -> FreshnessReport:
        return await freshness.report(await offsets(store))

    async def page(caller: Access, family: str, filters: dict[str, Any], limit: int,
                   cursor: str | None, found: Page | None = None) -> Any:
        shown = await shown_page(caller, store, family, filters, limit=limit, cursor=cursor,
                                 found=found)
        return {"items": shown.items, "next_cursor": shown.next_cursor,
                "freshness": await fresh(), "withheld": shown.withheld}

    async def one(caller: Access, family: str, subject: str) -> Any:
        found = await shown_one(caller, store, family, subject, today())
        if found is None:
            raise HTTPException(404, f"no {family[:-1]} {subject} in the views")
        item, withheld = found
        return {"item": item, "freshness": await fresh(), "withheld": withheld}

    async def history(caller: Access, subject: str, limit: int, cursor: str | None) -> Any:
        shown = await shown_history(caller, store, subject, limit=limit, cursor=cursor)
        return {"items": shown.items, "next_cursor": shown.next_cursor,
                "freshness": await fresh(), "withheld": shown.withheld}

    @router.get("/projects", response_model=ListAnswer[ProjectView])
    async def projects(caller: Caller, limit: Limit = 50, cursor: Cursor = None,
                       province: Province | None = None, stage: ProjectStage | None = None,
                       operator: str | None = None, kind: ProjectKind | None = None) -> Any:
        """Projects (mines and plants): kind, stage, operator, joint venture, titles, inputs
        and outputs, deliveries received and taken, latest production."""
        return await page(caller, "projects",
                          {"province": province, "status": stage, "party": operator,
                           "kind": kind},
                          limit, cursor)

    @router.get("/projects/{project_id}", response_model=ItemAnswer[ProjectView])
    async def project(caller: Caller, project_id: str) -> Any:
        return await one(caller, "projects", project_id)

    @router.get("/projects/{project_id}/timeline", response_model=TimelineAnswer)
    async def project_timeline(caller: Caller, project_id: str, limit: Limit = 100,
                               cursor: Position = None) -> Any:
        """Every accepted event of the project in order, corrections and superseded ones too."""
        if await get_view(store, "projects", project_id) is None:
            raise HTTPException(404, f"no project {project_id} in the views")
        return await history(caller, project_id, limit, cursor)

    @router.get("/approvals", response_model=ListAnswer[ApprovalItem])
    async def approvals(
        caller: Caller,
        limit: Limit = 50, cursor: Cursor = None,
        status: Annotated[list[ApprovalFilter] | None, Query(description="status(es); "
                                                             "`pending` = "
                                                  "awaiting a decision; `deemed_approved` "
                                                  "includes approvals by silence")] = None,
        breached: Annotated[bool, Query(description="only pending files past their service "
                                                    "standard")] = False,
        authority: str | None = None, province: Province | None = None,
        holder: Annotated[str | None, Query(description="holder's USCC")] = None,
        kind: ApprovalKind | None = None, project: str | None = None,
        application: Annotated[str | None, Query(
            description="a licence application's own reference")] = None,
    ) -> Any:
        """Licences, environmental approvals and export LPCOs: status, dues, time in state."""
        filters = {"authority": authority, "province": province, "party": holder, "kind": kind,
                   "project_id": project, "application_ref": application}
        found = await list_approvals(store, filters, today=today(), status=status or [],
                                     breached=breached, limit=limit, cursor=cursor)
        return await page(caller, "approvals", filters, limit, cursor, found)

    @router.get("/approvals/{ref:path}", response_model=ItemAnswer[ApprovalItem])
    async def approval(caller: Caller, ref: str) -> Any:
        return await one(caller, "approvals", ref)

    @router.get("/shipments", response_model=ListAnswer[ShipmentView])
    async def shipments(
        caller: Caller,
        limit: Limit = 50, cursor: Cursor = None,
        status: Annotated[list[ShipmentStatus] | None, Query()] = None,
        exporter: str | None = None, on_hold: bool | None = None,
    ) -> Any:
        """Shipments: status, current leg, holds, the export approvals relied on."""
        filters = {"status": statuses(status or []), "party": exporter, "on_hold": on_hold}
        return await page(caller, "shipments", filters, limit, cursor)

    @router.get("/shipments/{shipment_id}", response_model=ItemAnswer[ShipmentView])
    async def shipment(caller: Caller, shipment_id: str) -> Any:
        return await one(caller, "shipments", shipment_id)

    @router.get("/timeline/{subject}", response_model=TimelineAnswer)
    async def subject_timeline(caller: Caller, subject: str, limit: Limit = 100,
                               cursor: Position = None) -> Any:
        """Any subject's history: a project, title, environmental file, LPCO or shipment."""
        return await history(caller, subject, limit, cursor)

    return router


@dataclass(frozen=True, slots=True)
class Shown:
    """Documents as one caller may see them: restricted fields withheld per the policy."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    withheld: Any
    """Per subject the paths withheld (a list), or for a timeline the paths withheld."""


async def shown_page(caller: Access, store: ViewStore, family: str, filters: dict[str, Any], *,
                     limit: int, cursor: str | None, found: Page | None = None) -> Shown:
    """A page of ``family`` as ``caller`` may see it: the JSON API and the console read here."""
    if found is None:
        found = await list_views(store, family, filters, limit=limit, cursor=cursor)
    items, withheld = await caller.views(family, found.items)
    return Shown(items, found.next_cursor, withheld)


async def shown_one(caller: Access, store: ViewStore, family: str, subject: str,
                    today: date) -> tuple[dict[str, Any], list[str]] | None:
    """One view document as ``caller`` may see it (an approval with its standing on ``today``),
    and the paths withheld; None if there is none."""
    doc = await get_view(store, family, subject)
    if doc is None:
        return None
    if family == "approvals":
        doc = with_standing(doc, today)
        subject = doc["ref"]  # asked for by its application reference
    [item], withheld = await caller.views(family, [doc])
    return item, withheld.get(subject, [])


async def shown_history(caller: Access, store: ViewStore, subject: str, *, limit: int,
                        cursor: str | None) -> Shown:
    """A subject's timeline as ``caller`` may see it."""
    found = await timeline(store, subject, limit=limit, cursor=cursor)
    row = await subject_row(store, subject, found.items)
    items, withheld = await caller.entries(subject, row, found.items)
    return Shown(items, found.next_cursor, withheld)


async def subject_row(store: ViewStore, subject: str, items: list[dict[str, Any]]) -> Row | None:
    """The policy's row for a timeline's subject: from its view (party, province, kind, all
    stored in the document: a project's derived titles and offtake are not read)."""
    family = str(items[0]["family"]) if items else None
    for name in (family,) if family else ("projects", "approvals", "shipments"):
        doc = await get_view(store, name, subject, derived=False)
        if doc is not None:
            return row_of(name, doc)
    return None
