"""Queries behind the read API and the CLI: filtered, keyset-paginated view documents."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.store import ViewStore
from consumers.store_batch import entry_of, stored_offsets
from consumers.store_schema import Tables
from consumers.views.models import (
    ApprovalKind,
    Intake,
    Offtake,
    ProjectTitle,
    ShipmentStatus,
    TimelineEntry,
)
from consumers.views.query import APPROVAL_STATUSES, statuses, unknown_value
from consumers.views.registry import BY_NAME
from schemas.common import Province
from schemas.events.projects import PLANT_KINDS, ProjectKind
from schemas.lifecycles import IN_FORCE

MAX_LIMIT = 500
_READ_ON = 200
"""Rows read at a time while rows the caller may not see are skipped."""
__all__ = [
    "APPROVAL_STATUSES",
    "MAX_LIMIT",
    "PROJECT_KINDS",
    "PROVINCE_NAMES",
    "SHIPMENT_STATUSES",
    "Page",
    "get_view",
    "list_approvals",
    "list_docs",
    "list_views",
    "offsets",
    "project_kind",
    "province_filter",
    "statuses",
    "timeline",
    "unknown_value",
    "with_offtake",
    "with_titles",
]
"""With the checked filters of ``consumers.views.query``, where callers have always found them."""
PROVINCE_NAMES = {p.value: p.name.replace("_", " ").title() for p in Province}
"""ISO 3166-2:PK code → the province's name (for suggestions)."""


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def province_filter(value: str | None) -> str | None:
    """A ``province`` filter, checked: an ISO 3166-2:PK code; anything else (a province's name,
    a typo) raises ``ValueError`` suggesting the code, rather than silently matching nothing."""
    if value is None or value in PROVINCE_NAMES:
        return value
    raise ValueError(unknown_value("province", value, PROVINCE_NAMES, PROVINCE_NAMES))


SHIPMENT_STATUSES = tuple(s.value for s in ShipmentStatus)
PROJECT_KINDS = tuple(k.value for k in ProjectKind)


def project_kind(value: str | None) -> str | None:
    """A ``kind`` filter, checked: an unknown kind (a typo) raises ``ValueError`` naming the
    valid ones, rather than silently matching nothing."""
    if value is not None and value not in PROJECT_KINDS:
        raise ValueError(unknown_value("kind", value, PROJECT_KINDS))
    return value


async def list_approvals(
    store: ViewStore, filters: dict[str, Any], *, today: date, status: Sequence[str] = (),
    breached: bool = False, limit: int = 50, cursor: str | None = None,
) -> Page:
    """Approvals with their standing on ``today`` (``consumers.views.standing``), filtered on
    the effective status (``deemed_approved`` includes files the law approved by silence) and,
    with ``breached``, on a pending file past its service standard.

    These two filters apply after the page is read, so a page may hold fewer than ``limit``
    items; ``next_cursor`` still continues where the page stopped.
    """
    return await list_docs(store, "approvals", filters,
                           {"status": list(status), "breached": breached}, today=today,
                           limit=limit, cursor=cursor)


async def list_docs(
    store: ViewStore, family: str, filters: dict[str, Any], read: Mapping[str, Any], *,
    today: date, limit: int = 50, cursor: str | None = None,
    parties: Collection[str] | None = None, keep: Keep | None = None,
) -> Page:
    """A page of ``family`` by its column ``filters``, then as its declaration reads it: the
    read-time filters ``read`` applied (``View.stored``, ``View.refine``), so a page may hold
    fewer than ``limit`` items; ``next_cursor`` still continues where the page stopped.
    ``parties`` and ``keep``: the rows the caller may see (``list_views``)."""
    view = BY_NAME[family]
    stored = {**filters, **view.stored(read)} if view.stored else filters
    found = await list_views(store, family, stored, limit=limit, cursor=cursor,
                             parties=parties, keep=keep)
    if view.refine is None:
        return found
    return Page(view.refine(found.items, read, today), found.next_cursor)


def _filters(table: Table, filters: dict[str, Any]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for column, wanted in filters.items():
        if wanted is None or wanted == []:
            continue
        if isinstance(wanted, list):
            clauses.append(table.c[column].in_(wanted))
        else:
            clauses.append(table.c[column] == wanted)
    return clauses


Keep = Callable[[dict[str, Any]], bool]
"""Whether the caller may see a row at all (``consumers.access_http.Access.finds``)."""


async def list_views(
    store: ViewStore, family: str, filters: dict[str, Any], *, limit: int = 50,
    cursor: str | None = None, parties: Collection[str] | None = None,
    keep: Keep | None = None,
) -> Page:
    """Documents of ``family`` matching ``filters`` (column → value or list), by subject.

    ``parties`` narrows to rows of these parties in the query; ``keep`` drops the rows the
    caller may not see before the page is cut: rows are read on until ``limit`` kept rows and
    one more are found, so neither the items, nor ``next_cursor`` (the last row returned),
    nor whether there is a next page says anything about rows the caller may not see."""
    limit = max(1, min(limit, MAX_LIMIT))
    batch = limit + 1 if keep is None else max(limit + 1, _READ_ON)
    kept: list[tuple[str, dict[str, Any]]] = []
    async with store.reading() as (conn, tables):
        table = tables.view(family)
        narrowed = [] if parties is None else [table.c.party.in_(sorted(parties))]
        after = cursor
        while len(kept) <= limit:
            query = (select(table.c.subject, table.c.doc)
                     .where(*tables.scope(family), *_filters(table, filters), *narrowed)
                     .where(table.c.subject > after if after else true())
                     .order_by(table.c.subject).limit(batch))
            rows = (await conn.execute(query)).all()
            for r in rows:
                doc = json.loads(r.doc)
                if keep is None or keep(doc):
                    kept.append((r.subject, doc))
            if len(rows) < batch:
                break
            after = rows[-1].subject
        more = len(kept) > limit
        kept = kept[:limit]
        docs = [d for _, d in kept]
        if family == "projects":
            docs = await with_offtake(conn, tables, await with_titles(conn, tables, docs))
    return Page(docs, kept[-1][0] if more else None)


async def get_view(store: ViewStore, family: str, subject: str, *,
                   derived: bool = True) -> dict[str, Any] | None:
    """The view of ``subject``; also by its declared ``lookup`` column (an approval by its
    application's own reference) when that names exactly one file (the caller reads the
    file's ``ref`` from the answer). A project comes with its titles and offtake, read from the
    other views, unless ``derived`` is off (for a caller that needs only the stored document:
    its party, province and kind)."""
    lookup = BY_NAME[family].lookup
    async with store.reading() as (conn, tables):
        table, scope = tables.view(family), tables.scope(family)
        doc = (await conn.execute(select(table.c.doc).where(
            *scope, table.c.subject == subject))).scalar()
        if doc is None and lookup is not None:
            docs = (await conn.execute(select(table.c.doc).where(
                *scope, table.c[lookup] == subject).limit(2))).scalars().all()
            doc = docs[0] if len(docs) == 1 else None
        if doc is None:
            return None
        found = dict(json.loads(doc))
        if family == "projects" and derived:
            [found] = await with_offtake(conn, tables, await with_titles(conn, tables, [found]))
    return found


async def _title_rows(
    conn: AsyncConnection, tables: Tables, projects: set[str], titles: set[str],
) -> dict[str, dict[str, Any]]:
    """Title files naming one of ``projects``, or numbered as one of ``titles``."""
    table = tables.approvals
    named = [table.c.project_id.in_(projects)] if projects else []
    numbered = [table.c.subject.in_(titles)] if titles else []
    if not named and not numbered:
        return {}
    rows = await conn.execute(select(table.c.subject, table.c.doc).where(
        table.c.kind == ApprovalKind.TITLE.value, or_(*named, *numbered)))
    return {r.subject: json.loads(r.doc) for r in rows}


def _title(number: str, doc: dict[str, Any] | None, *, registered: bool,
           vouched: bool) -> ProjectTitle:
    """``vouched``: named at registration or as a conversion's lease, so in force when unseen."""
    if doc is None:
        return ProjectTitle(title_number=number, in_force=vouched, registered=registered)
    status = doc.get("status")
    return ProjectTitle(
        title_number=number, status=status, registered=registered,
        holder_uscc=doc.get("holder_uscc"),
        in_force=status in IN_FORCE or (status is None and vouched),
        granted_on=doc.get("granted_on"), expires_on=doc.get("expires_on"),
        converted_to=doc.get("converted_to"))


async def with_titles(
    conn: AsyncConnection, tables: Tables, docs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Project documents with their titles as the approvals view has them now.

    A project's titles are those named at registration and every title whose application or
    grant names the project (the approvals row's ``project_id``), plus the lease a licence of
    the project was converted to. Each is listed in ``title_files`` with its status; ``titles``
    keeps those in force (a registered title the bus has not seen counts as in force). Computed
    when read, from the two views as they stand: the same whatever order the partitions were
    consumed in, since each view is.
    """
    ids = {str(d["project_id"]) for d in docs}
    registered = {t for d in docs for t in d.get("titles", ())}
    rows = await _title_rows(conn, tables, ids, registered)
    leases = {str(r["converted_to"]) for r in rows.values() if r.get("converted_to")}
    if leases - rows.keys():
        rows |= await _title_rows(conn, tables, set(), leases - rows.keys())
    out = []
    for doc in docs:
        own = list(dict.fromkeys(doc.get("titles", ())))
        linked = sorted(n for n, r in rows.items() if r.get("project_id") == doc["project_id"])
        numbers = list(dict.fromkeys([*own, *linked]))
        for number in list(numbers):
            lease = (rows.get(number) or {}).get("converted_to")
            if lease and lease not in numbers:
                numbers.append(str(lease))
        files = [_title(n, rows.get(n), registered=n in own, vouched=n in own or n in leases)
                 for n in numbers]
        out.append({**doc, "titles": [f.title_number for f in files if f.in_force],
                    "title_files": [f.model_dump(mode="json") for f in files]})
    return out


async def with_offtake(
    conn: AsyncConnection, tables: Tables, docs: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Project documents with their ``offtake``: what each plant reported receiving from them.

    A delivery is folded into the receiving plant's view (``received_from``, its input ledger);
    a supplier's offtake is read from the plants' views as they stand, by plant and product, so
    each view stays a fold of its own subject's events and the answer is the same whatever
    order the partitions were consumed in.
    """
    ids = {str(d["project_id"]) for d in docs}
    if not ids:
        return docs
    table = tables.projects
    rows = await conn.execute(select(table.c.subject, table.c.doc).where(
        table.c.kind.in_(sorted(k.value for k in PLANT_KINDS))).order_by(table.c.subject))
    taken: dict[str, list[Offtake]] = {}
    operators = {str(d["project_id"]): d.get("operator_uscc") for d in docs}
    for row in rows:
        plant = json.loads(row.doc)
        for raw in plant.get("received_from", ()):
            intake = Intake.model_validate(raw)
            if intake.supplier_project_id not in ids:
                continue
            taken.setdefault(intake.supplier_project_id, []).append(Offtake(
                plant_project_id=row.subject, plant_kind=plant["kind"],
                plant_operator_uscc=plant["operator_uscc"], product=intake.product,
                wmt=intake.wmt, dmt=intake.dmt, deliveries=intake.deliveries,
                first_on=intake.first_on, last_on=intake.last_on,
                confirmed=intake.supplier_uscc == operators[intake.supplier_project_id]))
    return [{**d, "offtake": [o.model_dump(mode="json")
                              for o in taken.get(str(d["project_id"]), [])]} for d in docs]


async def timeline(
    store: ViewStore, subject: str, *, limit: int = 100, cursor: str | None = None,
) -> Page:
    """A subject's history in order; corrected entries stay, marked ``superseded_by``."""
    limit = max(1, min(limit, MAX_LIMIT))
    after = int(cursor) if cursor and cursor.isdigit() else 0
    async with store.reading() as (conn, tables):
        tl = tables.timeline
        rows = (await conn.execute(
            select(tl).where(tl.c.subject == subject, tl.c.position > after)
            .order_by(tl.c.position).limit(limit + 1))).all()
    more = len(rows) > limit
    entries: list[TimelineEntry] = [entry_of(r) for r in rows[:limit]]
    items = [{**e.model_dump(mode="json"), "data": json.loads(e.data),
              "effective": None if e.effective is None else json.loads(e.effective)}
             for e in entries]
    return Page(items, str(entries[-1].position) if more else None)


async def offsets_and_held(
    store: ViewStore,
) -> tuple[dict[tuple[str, int], int], frozenset[tuple[str, int]]]:
    """The store's next offset per consumed partition, and the partitions where records are
    held (read past, not applied: waiting for a predecessor), in one snapshot."""
    async with store.reading() as (conn, tables):
        h = tables.held.c
        rows = await conn.execute(select(h.topic, h.log_partition).distinct())
        held = frozenset((r.topic, r.log_partition) for r in rows)
        return await stored_offsets(conn, tables), held


async def offsets(store: ViewStore) -> dict[tuple[str, int], int]:
    """The store's next offset per consumed partition."""
    async with store.reading() as (conn, tables):
        return await stored_offsets(conn, tables)
