"""What the public sees without signing in: the licence register and agency lead times.

EITI requirement 2.3 asks for a public register of licences (holder, coordinates, application and
award dates, duration, commodity); the platform's promise of streamlined approvals is measured by
each agency's lead times against the service standards. Both come from the views, and each row
links to the signed events behind it (``/v1/public/timeline/{ref}``, restricted fields removed).
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from consumers.access_http import Access
from consumers.audit.dataset import Dataset, load_dataset
from consumers.audit.leadtimes import LeadTime, decisions, lead_times
from consumers.audit.register import Licence, licence_register
from consumers.store import ViewStore
from consumers.store_read import MAX_LIMIT, get_view, offsets, timeline
from schemas.registry import Registry
from schemas.standards import Standards


class PublicLicence(BaseModel):
    licence: Licence
    events: str
    """Where the signed events behind this row are."""


class PublicLeadTime(BaseModel):
    lead_time: LeadTime
    authority_name: str
    files: list[str]
    """The files counted, each readable at ``/v1/public/timeline/{ref}``."""


class Register(BaseModel):
    as_of: str
    licences: list[PublicLicence]


class LeadTimes(BaseModel):
    as_of: str
    rows: list[PublicLeadTime]


def create_public_router(
    store: ViewStore, registry: Callable[[], Registry],
    access: Callable[..., Awaitable[Access]],
) -> APIRouter:
    """``/public/...`` (mounted under ``/v1``): no sign-in, shared data only."""
    router = APIRouter(tags=["public"])
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias
    cached: list[tuple[object, Dataset]] = []

    async def dataset() -> Dataset:
        """The views as the public tables need them, read again only when the views moved (an
        anonymous caller asking repeatedly costs one offsets query, not a full read)."""
        known = registry()
        key = (tuple(sorted((await offsets(store)).items())), len(known.orgs))
        if not cached or cached[0][0] != key:
            cached[:] = [(key, await load_dataset(store, known))]
        return cached[0][1]

    @router.get("/public/licences", response_model=Register)
    async def licences(_: Caller) -> Any:
        """The licence register (EITI 2.3): every title, its holder, area, dates and commodity."""
        data = await dataset()
        rows = [PublicLicence(licence=r, events=f"/v1/public/timeline/{r.title_number}")
                for r in licence_register(data)]
        return {"as_of": _now(), "licences": rows}

    @router.get("/public/lead-times", response_model=LeadTimes)
    async def agency_lead_times(_: Caller) -> Any:
        """Each agency's decisions per kind of file: median and p90 days against the standard."""
        data = await dataset()
        standards = Standards()
        found = decisions(data, standards)
        rows = []
        for row in lead_times(found, standards):
            files = sorted(d.ref for d in found if (d.kind, d.authority, d.category)
                           == (row.kind, row.authority, row.category))
            rows.append(PublicLeadTime(lead_time=row, authority_name=data.name(row.authority),
                                       files=files))
        return {"as_of": _now(), "rows": rows}

    @router.get("/public/timeline/{ref}")
    async def public_timeline(
        caller: Caller, ref: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> Any:
        """The signed events of one licence, environmental approval or LPCO; restricted fields
        (personal data, commercial terms) are removed for everyone here."""
        if await get_view(store, "approvals", ref) is None:
            raise HTTPException(404, f"no licence or approval {ref} on the public record")
        found = await timeline(store, ref, limit=limit, cursor=cursor)
        items, withheld = await caller.entries(ref, None, found.items)
        return {"items": items, "next_cursor": found.next_cursor, "withheld": withheld}

    return router


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
