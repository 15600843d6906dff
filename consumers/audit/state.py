"""What a replayed store holds, for people: counts by status, or one subject's view and history."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import func, select

from consumers.store import ViewStore
from consumers.store_read import get_view, timeline
from consumers.views.models import PENDING
from consumers.views.standing import with_standing

FAMILIES = ("projects", "approvals", "shipments")


async def summary(store: ViewStore, today: date | None = None) -> dict[str, dict[str, int]]:
    """Per view, how many subjects are in each status (stage, approval status, shipment status).

    Approvals are split by kind (``title:granted``, ``environmental:approved``...), as recorded.
    With ``today``, ``approvals_standing`` counts the files still pending on that day by the
    status the law gives them (``environmental:deemed_approved`` for an IEE/EIA whose silence
    approved it) and, under ``breached``, those past their service standard.
    """
    out: dict[str, dict[str, int]] = {}
    async with store.reading() as (conn, tables):
        for family in FAMILIES:
            table = tables.view(family)
            columns = [table.c.kind, table.c.status] if family == "approvals" else [table.c.status]
            rows = await conn.execute(
                select(*columns, func.count()).group_by(*columns).order_by(*columns)
            )
            out[family] = {
                ":".join(str(v) if v is not None else "unknown" for v in row[:-1]): int(row[-1])
                for row in rows
            }
        if today is not None:
            table = tables.approvals
            docs = await conn.execute(select(table.c.doc).where(
                table.c.status.in_([s.value for s in PENDING])))
            standing: dict[str, int] = {}
            for (doc,) in docs:
                item = with_standing(json.loads(doc), today)
                key = f"{item['kind']}:{item['effective_status']}"
                standing[key] = standing.get(key, 0) + 1
                standing["breached"] = standing.get("breached", 0) + bool(item["breached"])
            out["approvals_standing"] = dict(sorted(standing.items()))
    return out


async def subject_state(store: ViewStore, subject: str,
                        today: date | None = None) -> dict[str, Any]:
    """The subject's view (whichever family holds it) and its whole timeline.

    With ``today``, an approval's view carries its standing on that day, as the views answer it
    (``as_of``, ``effective_status``, ``days_pending``, ``breached``: never stored, so a replay
    alone would show an IEE/EIA the law deemed approved as still ``filed``).
    """
    view: dict[str, Any] | None = None
    family_of: str | None = None
    for family in FAMILIES:
        view = await get_view(store, family, subject)
        if view is not None:
            family_of = family
            break
    if view is not None and family_of == "approvals" and today is not None:
        view = with_standing(view, today)
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await timeline(store, subject, limit=500, cursor=cursor)
        entries.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return {"subject": subject, "family": family_of, "view": view, "timeline": entries}
