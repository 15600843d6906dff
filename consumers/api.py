"""The read API of the views: projects, approvals, shipments and timelines, each with freshness.

Mounted under ``/v1`` by ``infra.app``. Lists are keyset-paginated: pass the answer's
``next_cursor`` as ``cursor`` for the next page. Every answer carries ``freshness``, per topic and
partition the last offset applied to the views, the log's end offset and the lag between them.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from consumers.freshness import Freshness, FreshnessReport
from consumers.store import ViewStore
from consumers.store_read import MAX_LIMIT, Page, get_view, list_views, offsets, statuses, timeline
from consumers.views.models import ApprovalView, ProjectView, ShipmentView

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(description="``next_cursor`` of the previous page")]


class ListAnswer(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None
    freshness: FreshnessReport


class ItemAnswer(BaseModel, Generic[T]):
    item: T
    freshness: FreshnessReport


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


def create_views_router(  # noqa: C901 - one small nested handler per route
    store: ViewStore, freshness: Freshness
) -> APIRouter:
    """Routes reading ``store``; ``freshness`` asks the broker how far the log has gone."""
    router = APIRouter(tags=["views"])

    async def fresh() -> FreshnessReport:
        return await freshness.report(await offsets(store))

    async def page(family: str, filters: dict[str, Any], limit: int, cursor: str | None) -> Any:
        found: Page = await list_views(store, family, filters, limit=limit, cursor=cursor)
        return {"items": found.items, "next_cursor": found.next_cursor, "freshness": await fresh()}

    async def one(family: str, subject: str) -> Any:
        doc = await get_view(store, family, subject)
        if doc is None:
            raise HTTPException(404, f"no {family[:-1]} {subject} in the views")
        return {"item": doc, "freshness": await fresh()}

    @router.get("/projects", response_model=ListAnswer[ProjectView])
    async def projects(limit: Limit = 50, cursor: Cursor = None, province: str | None = None,
                       stage: str | None = None, operator: str | None = None) -> Any:
        """Projects: stage, operator, joint venture, titles, latest production."""
        return await page("projects", {"province": province, "status": stage, "party": operator},
                          limit, cursor)

    @router.get("/projects/{project_id}", response_model=ItemAnswer[ProjectView])
    async def project(project_id: str) -> Any:
        return await one("projects", project_id)

    @router.get("/projects/{project_id}/timeline", response_model=ListAnswer[TimelineItem])
    async def project_timeline(project_id: str, limit: Limit = 100, cursor: Cursor = None) -> Any:
        """Every accepted event of the project in order, corrections and superseded ones too."""
        if await get_view(store, "projects", project_id) is None:
            raise HTTPException(404, f"no project {project_id} in the views")
        found = await timeline(store, project_id, limit=limit, cursor=cursor)
        return {"items": found.items, "next_cursor": found.next_cursor, "freshness": await fresh()}

    @router.get("/approvals", response_model=ListAnswer[ApprovalView])
    async def approvals(
        limit: Limit = 50, cursor: Cursor = None,
        status: Annotated[list[str] | None, Query(description="status(es); `pending` = "
                                                  "awaiting a decision")] = None,
        authority: str | None = None, province: str | None = None,
        holder: Annotated[str | None, Query(description="holder's USCC")] = None,
        kind: str | None = None, project: str | None = None,
    ) -> Any:
        """Licences, environmental approvals and export LPCOs: status, dues, time in state."""
        filters = {"status": statuses(status or []), "authority": authority,
                   "province": province, "party": holder, "kind": kind, "project_id": project}
        return await page("approvals", filters, limit, cursor)

    @router.get("/approvals/{ref}", response_model=ItemAnswer[ApprovalView])
    async def approval(ref: str) -> Any:
        return await one("approvals", ref)

    @router.get("/shipments", response_model=ListAnswer[ShipmentView])
    async def shipments(
        limit: Limit = 50, cursor: Cursor = None,
        status: Annotated[list[str] | None, Query()] = None,
        exporter: str | None = None, on_hold: bool | None = None,
    ) -> Any:
        """Shipments: status, current leg, holds, the export approvals relied on."""
        filters = {"status": statuses(status or []), "party": exporter, "on_hold": on_hold}
        return await page("shipments", filters, limit, cursor)

    @router.get("/shipments/{shipment_id}", response_model=ItemAnswer[ShipmentView])
    async def shipment(shipment_id: str) -> Any:
        return await one("shipments", shipment_id)

    @router.get("/timeline/{subject}", response_model=ListAnswer[TimelineItem])
    async def subject_timeline(subject: str, limit: Limit = 100, cursor: Cursor = None) -> Any:
        """Any subject's history: a project, title, environmental file, LPCO or shipment."""
        found = await timeline(store, subject, limit=limit, cursor=cursor)
        return {"items": found.items, "next_cursor": found.next_cursor, "freshness": await fresh()}

    return router



