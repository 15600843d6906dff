"""Queries behind the read API and the CLI: filtered, keyset-paginated view documents."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Table, select, true

from consumers.store import ViewStore
from consumers.store_batch import entry_of, stored_offsets
from consumers.views.models import PENDING, ApprovalStatus, ShipmentStatus, TimelineEntry
from consumers.views.standing import (
    AWAITING_AUTHORITY,
    DEEMED,
    LPCO_PENDING,
    with_standing,
)

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def statuses(values: Sequence[str], valid: Iterable[str] | None = None) -> list[str]:
    """``pending`` stands for every status in which a file awaits its authority's decision.

    With ``valid``, an unknown status (a typo) raises ``ValueError`` naming the valid ones,
    rather than silently matching nothing.
    """
    allowed = None if valid is None else set(valid)
    expanded: list[str] = []
    for value in values:
        for raw in value.split(","):
            part = raw.strip()
            if part and allowed is not None and part not in allowed:
                raise ValueError(f"unknown status {part!r}; valid: {', '.join(sorted(allowed))}")
            expanded += sorted(PENDING) if part == "pending" else [part] if part else []
    return expanded


APPROVAL_STATUSES = ("pending", *(s.value for s in ApprovalStatus))
"""What ``status`` may say of approvals."""
SHIPMENT_STATUSES = tuple(s.value for s in ShipmentStatus)


def _stored_statuses(wanted: list[str], breached: bool) -> list[str]:
    """Stored statuses that may have the wanted effective ones (a deemed approval is stored
    ``filed``); with ``breached``, only statuses that can be past a standard."""
    stored = set(wanted)
    if DEEMED in stored:
        stored.add(ApprovalStatus.FILED.value)
    if breached:
        can = {s.value for s in (*AWAITING_AUTHORITY, *LPCO_PENDING, ApprovalStatus.FILED)}
        stored = stored & can if stored else can
    return sorted(stored)


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
    wanted = statuses(status, APPROVAL_STATUSES)
    found = await list_views(store, "approvals",
                             {**filters, "status": _stored_statuses(wanted, breached)},
                             limit=limit, cursor=cursor)
    items = [with_standing(doc, today) for doc in found.items]
    items = [i for i in items if (not wanted or i["effective_status"] in wanted)
             and (not breached or i["breached"])]
    return Page(items, found.next_cursor)


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


async def list_views(
    store: ViewStore, family: str, filters: dict[str, Any], *, limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Documents of ``family`` matching ``filters`` (column → value or list), by subject."""
    limit = max(1, min(limit, MAX_LIMIT))
    async with store.reading() as (conn, tables):
        table = tables.view(family)
        query = (select(table.c.subject, table.c.doc).where(*_filters(table, filters))
                 .where(table.c.subject > cursor if cursor else true())
                 .order_by(table.c.subject).limit(limit + 1))
        rows = (await conn.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([json.loads(r.doc) for r in rows], rows[-1].subject if more else None)


async def get_view(store: ViewStore, family: str, subject: str) -> dict[str, Any] | None:
    async with store.reading() as (conn, tables):
        table = tables.view(family)
        doc = (await conn.execute(select(table.c.doc).where(table.c.subject == subject))).scalar()
    return None if doc is None else dict(json.loads(doc))


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


async def offsets(store: ViewStore) -> dict[tuple[str, int], int]:
    """The store's next offset per consumed partition."""
    async with store.reading() as (conn, tables):
        return await stored_offsets(conn, tables)
