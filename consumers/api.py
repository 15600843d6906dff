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
from inspect import Parameter, Signature
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

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
    list_docs,
    list_views,
    offsets,
    statuses,
    timeline,
)
from consumers.views.declare import Filter, View
from consumers.views.models import TimelineItem
from consumers.views.registry import BY_NAME, VIEWS
from consumers.views.standing import today_in_pakistan

T = TypeVar("T")

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


class TimelineAnswer(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None
    freshness: FreshnessReport
    withheld: list[str] = Field(default_factory=list, description=_WITHHELD)


def _is_list(annotation: Any) -> bool:
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return any(get_origin(a) is list for a in args)


def _parameter(f: Filter) -> Parameter:
    annotation = f.annotation
    if f.description is not None or _is_list(annotation):
        annotation = Annotated[annotation, Query(description=f.description)]
    return Parameter(f.name, Parameter.KEYWORD_ONLY, annotation=annotation, default=f.default)


def _column(value: Any) -> Any:
    return statuses(value or []) if isinstance(value, list) else value


ListPage = Callable[[Access, View, dict[str, Any], dict[str, Any], int, str | None],
                    Awaitable[Any]]
OneDoc = Callable[[Access, View, str], Awaitable[Any]]


def add_view_routes(router: APIRouter, view: View, caller: Any, page: ListPage,
                    one: OneDoc) -> None:
    """``/<view>`` (its declared filters, ``limit``, ``cursor``) and ``/<view>/{id}``, as
    declared: the handlers' signatures are built from the declaration, so FastAPI validates
    the parameters and documents them, and ``consumers.policy.ROUTES`` has their rules."""

    async def listing(**values: Any) -> Any:
        columns = {f.column: _column(values[f.name]) for f in view.filters if f.column}
        read = {f.name: values[f.name] for f in view.filters if f.column is None}
        return await page(values["caller"], view, columns, read, values["limit"],
                          values["cursor"])

    async def item(**values: Any) -> Any:
        return await one(values["caller"], view, values[view.id_param])

    me = Parameter("caller", Parameter.KEYWORD_ONLY, annotation=caller)
    listing.__signature__ = Signature([  # type: ignore[attr-defined]
        me, Parameter("limit", Parameter.KEYWORD_ONLY, annotation=Limit, default=50),
        Parameter("cursor", Parameter.KEYWORD_ONLY, annotation=Cursor, default=None),
        *(_parameter(f) for f in view.filters)])
    listing.__name__, listing.__doc__ = view.name, view.summary or None
    item.__signature__ = Signature([  # type: ignore[attr-defined]
        me, Parameter(view.id_param, Parameter.KEYWORD_ONLY, annotation=str)])
    item.__name__, item.__doc__ = view.one, None
    router.add_api_route(f"/{view.name}", listing, methods=["GET"],
                         response_model=ListAnswer[view.answer])  # type: ignore[name-defined]
    path = f"/{view.name}/{{{view.id_param}{':path' if view.id_path else ''}}}"
    router.add_api_route(path, item, methods=["GET"],
                         response_model=ItemAnswer[view.answer])  # type: ignore[name-defined]


def create_views_router(
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

    async def page(caller: Access, view: View, filters: dict[str, Any],
                   read: dict[str, Any], limit: int, cursor: str | None) -> Any:
        found = await list_docs(store, view.name, filters, read, today=today(), limit=limit,
                                cursor=cursor, parties=caller.narrows(view.name),
                                keep=caller.keeps(view.name))
        shown = await shown_page(caller, store, view.name, filters, limit=limit, cursor=cursor,
                                 found=found)
        return {"items": shown.items, "next_cursor": shown.next_cursor,
                "freshness": await fresh(), "withheld": shown.withheld}

    async def one(caller: Access, view: View, subject: str) -> Any:
        found = await shown_one(caller, store, view.name, subject, today())
        if found is None:
            raise HTTPException(404, f"no {view.one} {subject} in the views")
        item, withheld = found
        return {"item": item, "freshness": await fresh(), "withheld": withheld}

    async def history(caller: Access, subject: str, limit: int, cursor: str | None) -> Any:
        shown = await shown_history(caller, store, subject, limit=limit, cursor=cursor)
        return {"items": shown.items, "next_cursor": shown.next_cursor,
                "freshness": await fresh(), "withheld": shown.withheld}

    for view in VIEWS:
        add_view_routes(router, view, Caller, page, one)

    @router.get("/projects/{project_id}/timeline", response_model=TimelineAnswer)
    async def project_timeline(caller: Caller, project_id: str, limit: Limit = 100,
                               cursor: Position = None) -> Any:
        """Every accepted event of the project in order, corrections and superseded ones too."""
        if await get_view(store, "projects", project_id) is None:
            raise HTTPException(404, f"no project {project_id} in the views")
        return await history(caller, project_id, limit, cursor)

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
        found = await list_views(store, family, filters, limit=limit, cursor=cursor,
                                 parties=caller.narrows(family), keep=caller.keeps(family))
    items, withheld = await caller.views(family, found.items)
    return Shown(items, found.next_cursor, withheld)


async def shown_one(caller: Access, store: ViewStore, family: str, subject: str,
                    today: date) -> tuple[dict[str, Any], list[str]] | None:
    """One view document as ``caller`` may see it (with its read-time standing on ``today``
    when the view declares one), and the paths withheld; None if there is none. A row of a
    parties-only view another caller asks for is refused (403)."""
    view = BY_NAME[family]
    doc = await get_view(store, family, subject)
    if doc is None:
        return None
    if view.standing is not None:
        doc = view.standing(doc, today)
    subject = str(doc[view.id_field])  # asked for by its lookup column, perhaps
    if not caller.finds(family, doc):
        raise HTTPException(403, f"the {view.one} {subject} is shown only to its parties: "
                            f"{view.party_field.removesuffix('_uscc')}, the competent "
                            "agencies, auditors and the platform")
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
    for name in (family,) if family else tuple(v.name for v in VIEWS if v.owns):
        doc = await get_view(store, name, subject, derived=False)
        if doc is not None:
            return row_of(name, doc)
    return None
