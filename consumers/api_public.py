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
from consumers.digest import Digest, digest_tables
from consumers.store import ViewStore
from consumers.store_batch import stored_offsets
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


PublicEvents = tuple[list[dict[str, Any]], str | None, list[str]]
"""A public timeline page: items, next cursor, the restricted paths removed."""


class PublicData:
    """The public tables, built from the views and cached until the views move: the JSON API
    (``/v1/public/...``) and the console's public page read the same rows from here."""

    def __init__(self, store: ViewStore, registry: Callable[[], Registry]) -> None:
        self.store, self.registry = store, registry
        self._cached: list[tuple[object, Dataset]] = []
        self._derived: dict[str, tuple[Dataset, Any]] = {}
        """The licence register and lead times of the cached dataset (pure functions of it)."""
        self._digest: tuple[object, Digest] | None = None

    async def dataset(self) -> Dataset:
        """The views as the public tables need them, read again only when the views moved (an
        anonymous caller asking repeatedly costs one offsets query, not a full read)."""
        known = self.registry()
        key = (tuple(sorted((await offsets(self.store)).items())), len(known.orgs))
        if not self._cached or self._cached[0][0] != key:
            self._cached[:] = [(key, await load_dataset(self.store, known))]
        return self._cached[0][1]

    async def digest(self) -> Digest:
        """The views' digest (``consumers.digest``), computed again only when the views moved:
        the same log, the same digest, so the stored offsets are its key. Offsets and content
        are read in one transaction."""
        async with self.store.reading() as (conn, tables):
            key = tuple(sorted((await stored_offsets(conn, tables)).items()))
            if self._digest is None or self._digest[0] != key:
                self._digest = (key, await digest_tables(conn, tables))
        return self._digest[1]

    async def _of_dataset(self, name: str, build: Callable[[Dataset], Any]) -> Any:
        data = await self.dataset()
        kept = self._derived.get(name)
        if kept is None or kept[0] is not data:
            kept = self._derived[name] = (data, build(data))
        return kept[1]

    async def licences(self) -> list[PublicLicence]:
        rows: list[PublicLicence] = await self._of_dataset("licences", _licences)
        return list(rows)

    async def lead_times(self) -> list[PublicLeadTime]:
        rows: list[PublicLeadTime] = await self._of_dataset("lead_times", _lead_times)
        return list(rows)

    async def timeline(self, caller: Access, ref: str, *, limit: int,
                       cursor: str | None) -> PublicEvents | None:
        """The signed events of one licence, environmental approval or LPCO with restricted
        fields removed (whoever asks); None if there is no such file."""
        if await get_view(self.store, "approvals", ref) is None:
            return None
        found = await timeline(self.store, ref, limit=limit, cursor=cursor)
        items, withheld = await caller.entries(ref, None, found.items)
        return items, found.next_cursor, withheld


def _licences(data: Dataset) -> list[PublicLicence]:
    return [PublicLicence(licence=r, events=f"/v1/public/timeline/{r.title_number}")
            for r in licence_register(data)]


def _lead_times(data: Dataset) -> list[PublicLeadTime]:
    standards = Standards()
    found = decisions(data, standards)
    rows = []
    for row in lead_times(found, standards):
        files = sorted(d.ref for d in found if (d.kind, d.authority, d.category)
                       == (row.kind, row.authority, row.category))
        rows.append(PublicLeadTime(lead_time=row, authority_name=data.name(row.authority),
                                   files=files))
    return rows


def create_public_router(
    store: ViewStore, registry: Callable[[], Registry],
    access: Callable[..., Awaitable[Access]], data: PublicData | None = None,
) -> APIRouter:
    """``/public/...`` (mounted under ``/v1``): no sign-in, shared data only."""
    router = APIRouter(tags=["public"])
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias
    public = data or PublicData(store, registry)

    @router.get("/public/licences", response_model=Register)
    async def licences(_: Caller) -> Any:
        """The licence register (EITI 2.3): every title, its holder, area, dates and commodity."""
        return {"as_of": _now(), "licences": await public.licences()}

    @router.get("/public/lead-times", response_model=LeadTimes)
    async def agency_lead_times(_: Caller) -> Any:
        """Each agency's decisions per kind of file: median and p90 days against the standard."""
        return {"as_of": _now(), "rows": await public.lead_times()}

    @router.get("/public/timeline/{ref}")
    async def public_timeline(
        caller: Caller, ref: str,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,18}$")] = None,
    ) -> Any:
        """The signed events of one licence, environmental approval or LPCO; restricted fields
        (personal data, commercial terms) are removed for everyone here."""
        found = await public.timeline(caller, ref, limit=limit, cursor=cursor)
        if found is None:
            raise HTTPException(404, f"no licence or approval {ref} on the public record")
        items, next_cursor, withheld = found
        return {"items": items, "next_cursor": next_cursor, "withheld": withheld}

    return router


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
