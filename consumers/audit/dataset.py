"""The report's input: the views and timelines of a replayed store, read once into memory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from consumers.store import ViewStore
from consumers.views.models import ApprovalView, ProjectView, ShipmentView
from schemas.registry import Registry

TYPE_PREFIX = "pk.emining."


@dataclass(frozen=True, slots=True)
class Entry:
    """One timeline entry as it now counts (``data`` is ``None`` if it did not occur)."""

    subject: str
    position: int
    type: str
    """The event type without prefix and version: ``approval.licence.granted``."""
    time: datetime
    source: str
    summary: str
    data: dict[str, Any] | None
    correction: bool


@dataclass(slots=True)
class Dataset:
    projects: dict[str, ProjectView] = field(default_factory=dict)
    approvals: dict[str, ApprovalView] = field(default_factory=dict)
    shipments: dict[str, ShipmentView] = field(default_factory=dict)
    timelines: dict[str, list[Entry]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Organisation URN or USCC → its English name, from the registry."""
    local_names: dict[str, dict[str, str]] = field(default_factory=dict)
    """Organisation URN or USCC → its names by language (en, zh, ur), from the registry."""

    def name(self, party: str | None) -> str:
        return self.names.get(party or "", party or "")

    def first(self, subject: str, type_name: str) -> dict[str, Any] | None:
        """The data of the subject's first event of ``type_name`` that still counts."""
        return next((e.data for e in self.timelines.get(subject, ())
                     if e.type == type_name and e.data is not None), None)

    def all_of(self, subject: str, type_name: str) -> list[dict[str, Any]]:
        return [e.data for e in self.timelines.get(subject, ())
                if e.type == type_name and e.data is not None]


def short_type(ce_type: str) -> str:
    """``pk.emining.approval.licence.granted.v1`` → ``approval.licence.granted``."""
    return ce_type.removeprefix(TYPE_PREFIX).rsplit(".v", 1)[0]


def names_of(registry: Registry | None) -> dict[str, str]:
    if registry is None:
        return {}
    names: dict[str, str] = {}
    for org in registry.orgs.values():
        english = org.names.get("en", org.id)
        names[org.id] = english
        if org.uscc:
            names[org.uscc] = english
    return names


def local_names_of(registry: Registry | None) -> dict[str, dict[str, str]]:
    if registry is None:
        return {}
    names: dict[str, dict[str, str]] = {}
    for org in registry.orgs.values():
        names[org.id] = dict(org.names)
        if org.uscc:
            names[org.uscc] = dict(org.names)
    return names


async def load_dataset(store: ViewStore, registry: Registry | None = None) -> Dataset:
    """Every view document and timeline entry of the store's live generation."""
    data = Dataset(names=names_of(registry), local_names=local_names_of(registry))
    async with store.reading() as (conn, tables):
        docs: dict[str, dict[str, str]] = {}
        for family in ("projects", "approvals", "shipments"):
            table = tables.view(family)
            rows = await conn.execute(select(table.c.subject, table.c.doc)
                                      .order_by(table.c.subject))
            docs[family] = {row.subject: row.doc for row in rows}
        tl = tables.timeline
        rows = await conn.execute(
            select(tl.c.subject, tl.c.position, tl.c.type, tl.c.time, tl.c.source, tl.c.summary,
                   tl.c.effective, tl.c.corrects).order_by(tl.c.subject, tl.c.position))
        for row in rows:
            data.timelines.setdefault(row.subject, []).append(Entry(
                subject=row.subject, position=row.position, type=short_type(row.type),
                time=datetime.fromisoformat(row.time), source=row.source, summary=row.summary,
                data=json.loads(row.effective) if row.effective is not None else None,
                correction=row.corrects is not None,
            ))
    data.projects = {k: ProjectView.model_validate_json(v) for k, v in docs["projects"].items()}
    data.approvals = {k: ApprovalView.model_validate_json(v)
                      for k, v in docs["approvals"].items()}
    data.shipments = {k: ShipmentView.model_validate_json(v)
                      for k, v in docs["shipments"].items()}
    return data
