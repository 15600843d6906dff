"""Subscriptions: store a firm's project filters, and match them to projects already known."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts import tables as t
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.alerts.i18n import Ident, Message, Name, Param, Term, Terms
from consumers.alerts.model import Notice
from consumers.store_schema import Tables
from consumers.views.models import ProjectView
from schemas.alerts import AlertCause, AlertRule, CauseKind, Severity
from schemas.common import Mineral, Province
from schemas.envelope import format_time
from schemas.events.projects import ProjectStage


def _row(sub: Subscription) -> dict[str, str]:
    doc = sub.as_dict()
    return {"id": sub.id, "org": sub.org, "minerals": json.dumps(doc["minerals"]),
            "provinces": json.dumps(doc["provinces"]), "stages": json.dumps(doc["stages"]),
            "created_at": format_time(sub.created_at) if sub.created_at else ""}


def _sub(row: Any) -> Subscription:
    return Subscription(
        id=row.id, org=row.org,
        minerals=frozenset(Mineral(m) for m in json.loads(row.minerals)),
        provinces=frozenset(Province(p) for p in json.loads(row.provinces)),
        stages=frozenset(ProjectStage(s) for s in json.loads(row.stages)),
        created_at=datetime.fromisoformat(row.created_at),
    )


async def create_subscription(
    conn: AsyncConnection, org: str, *, minerals: Iterable[Mineral] = (),
    provinces: Iterable[Province] = (), stages: Iterable[ProjectStage] = (), now: datetime,
) -> Subscription:
    sub = Subscription(uuid.uuid4().hex, org, frozenset(minerals), frozenset(provinces),
                       frozenset(stages), now)
    await conn.execute(t.subscriptions.insert().values(_row(sub)))
    return sub


async def list_subscriptions(conn: AsyncConnection, org: str | None = None) -> list[Subscription]:
    s = t.subscriptions
    query = select(s).order_by(s.c.created_at, s.c.id)
    if org is not None:
        query = query.where(s.c.org == org)
    return [_sub(row) for row in await conn.execute(query)]


async def delete_subscription(conn: AsyncConnection, org: str, sub_id: str) -> bool:
    s = t.subscriptions
    result = await conn.execute(s.delete().where(s.c.id == sub_id, s.c.org == org))
    return bool(result.rowcount)


async def matching_projects(conn: AsyncConnection, tables: Tables,
                            sub: Subscription) -> list[ProjectView]:
    """Projects in the live views that ``sub`` matches (oldest first)."""
    p = tables.projects
    query = select(p.c.doc).order_by(p.c.subject)
    if sub.provinces:
        query = query.where(p.c.province.in_(sorted(x.value for x in sub.provinces)))
    views = [ProjectView.model_validate_json(doc) for doc in (await conn.execute(query)).scalars()]
    return [v for v in views if sub.matches(v.minerals, v.province, v.stage)]


def existing_notices(sub: Subscription, projects: Iterable[ProjectView],
                     directory: Directory) -> list[Notice]:
    """One alert per existing project a new subscription matches (not the firm's own)."""
    own = directory.org(sub.org)
    notices = []
    for view in projects:
        operator = directory.firm(view.operator_uscc)
        if own is None or (operator is not None and operator.org == sub.org):
            continue
        params: dict[str, Param] = {
            "name": Name.of(view.names) if view.names else Name(view.project_id),
            "ref": Ident(view.project_id), "province": Term("province", view.province.value),
            "minerals": Terms("mineral", tuple(m.value for m in view.minerals)),
            "stage": Term("stage", view.stage.value) if view.stage else Ident("-"),
            "operator": (Name.of(view.operator_name) if view.operator_name
                         else directory.firm_name(view.operator_uscc)),
        }
        cause = AlertCause(kind=CauseKind.SUBSCRIPTION, key=f"{sub.id}:{view.project_id}",
                           subject=view.project_id)
        notices.append(Notice(AlertRule.PROJECT_MATCHED, sub.org, view.project_id, cause,
                              Severity.INFO, Message("project_matched_existing", params),
                              details={"subscription": sub.id,
                                       "province": view.province.value}))
    return notices
