"""The views' tables, in two generations: one live, the other where a rebuild replays into.

Every table of a generation carries its letter (``views_a_projects``, ``views_b_projects``); the
``views_meta`` row ``live`` says which generation readers and the consumer use. A rebuild fills
the other generation and flips that row in one transaction, so no table is ever renamed and a
running consumer simply finds the new generation (and its offsets) at its next batch.
Views are disposable: a schema change bumps ``SCHEMA_VERSION`` and is applied by a rebuild.
The projects, approvals and shipments views have tables of their own; every other registered view
keeps its rows in ``documents`` (one row per view and subject), created on open in existing
stores. A view added to the registry is filled by a rebuild: the store records which views it
holds (``views_meta`` key ``views``) and asks for one when the registry names another.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 3
"""2: timeline provenance (``sequence``, ``record``), source chains and held records.
3: the projects' ``kind`` column (mine, concentrator, smelter, ...) and the approvals'
``application_ref``."""
GENERATIONS = ("a", "b")

meta_metadata = MetaData()
views_meta = Table(
    "views_meta", meta_metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def other(generation: str) -> str:
    return GENERATIONS[1 - GENERATIONS.index(generation)]


@dataclass(frozen=True, slots=True)
class Tables:
    """One generation's tables."""

    generation: str
    metadata: MetaData
    projects: Table
    approvals: Table
    shipments: Table
    timeline: Table
    positions: Table
    offsets: Table
    chains: Table
    held: Table
    documents: Table
    """The rows of every view without a table of its own, by view and subject."""

    def view(self, family: str) -> Table:
        """The table holding ``family``'s rows (``documents`` for most views: see ``scope``)."""
        return {"projects": self.projects, "approvals": self.approvals,
                "shipments": self.shipments}.get(family, self.documents)

    def scope(self, family: str) -> list[ColumnElement[bool]]:
        """What selects ``family``'s rows in its table: nothing, or its name in ``documents``."""
        table = self.view(family)
        return [table.c.view == family] if table is self.documents else []


def _view_table(md: MetaData, name: str, *extra: Column[object]) -> Table:
    """A view table: one JSON document per subject, plus the columns queries filter on."""
    table = Table(
        name, md,
        Column("subject", String(64), primary_key=True),
        Column("party", String(32), nullable=False),
        Column("status", String(32)),
        Column("province", String(8)),
        *extra,
        Column("updated_at", String(40), nullable=False),
        Column("doc", Text, nullable=False),
    )
    for column in ("party", "status", "province"):
        Index(f"{name}_{column}", table.c[column])
    return table


def _build(generation: str) -> Tables:
    md = MetaData()
    p = f"views_{generation}_"
    approvals = _view_table(
        md, p + "approvals",
        Column("kind", String(16), nullable=False),
        Column("authority", String(120)),
        Column("project_id", String(32)),
        Column("next_due_on", String(10)),
        Column("application_ref", String(64)),
    )
    Index(f"{p}approvals_authority", approvals.c.authority)
    Index(f"{p}approvals_application_ref", approvals.c.application_ref)
    shipments = _view_table(md, p + "shipments", Column("on_hold", Boolean, nullable=False))
    timeline = Table(
        p + "timeline", md,
        Column("subject", String(64), primary_key=True),
        Column("position", Integer, primary_key=True, autoincrement=False),
        Column("family", String(16), nullable=False),
        Column("event_id", String(128), nullable=False),
        Column("source", String(200), nullable=False),
        Column("type", String(200), nullable=False),
        Column("time", String(40), nullable=False),
        Column("summary", Text, nullable=False),
        Column("data", Text, nullable=False),
        Column("effective", Text),
        Column("superseded_by", String(128)),
        Column("corrects", String(128)),
        Column("log_partition", Integer, nullable=False),
        Column("log_offset", BigInteger, nullable=False),
        Column("sequence", BigInteger, nullable=False),
        # The record's headers and append time (``consumers.holding.StoredRecord``): what it
        # takes to apply the event again when a fork found later undoes what followed it.
        Column("record", Text, nullable=False),
    )
    Index(f"{p}timeline_event", timeline.c.event_id, timeline.c.source, unique=True)
    positions = Table(
        p + "source_positions", md,
        Column("topic", String(249), primary_key=True),
        Column("log_partition", Integer, primary_key=True, autoincrement=False),
        Column("source", String(200), primary_key=True),
        Column("last_sequence", BigInteger, nullable=False),
    )
    offsets = Table(
        p + "consumer_offsets", md,
        Column("topic", String(249), primary_key=True),
        Column("log_partition", Integer, primary_key=True, autoincrement=False),
        Column("next_offset", BigInteger, nullable=False),
        Column("applied_at", String(40)),
    )
    chains = Table(
        p + "source_chains", md,
        Column("source", String(200), primary_key=True),
        Column("head", BigInteger, nullable=False),
        Column("head_hash", String(64), nullable=False),
        Column("forked_at", BigInteger),
    )
    held = Table(
        p + "held", md,
        Column("topic", String(249), primary_key=True),
        Column("log_partition", Integer, primary_key=True, autoincrement=False),
        Column("log_offset", BigInteger, primary_key=True, autoincrement=False),
        Column("source", String(200), nullable=False),
        Column("sequence", BigInteger, nullable=False),
        Column("subject", String(64), nullable=False),
        Column("event_id", String(128), nullable=False),
        Column("reason", String(16), nullable=False),
        Column("record", Text, nullable=False),
        Column("alerted", Boolean, nullable=False),
        Column("held_at", String(40), nullable=False),
    )
    Index(f"{p}held_source", held.c.source, held.c.sequence)
    Index(f"{p}held_subject", held.c.subject)
    projects = _view_table(md, p + "projects", Column("kind", String(24)))
    Index(f"{p}projects_kind", projects.c.kind)
    documents = Table(
        p + "documents", md,
        Column("view", String(32), primary_key=True),
        Column("subject", String(64), primary_key=True),
        Column("party", String(32), nullable=False),
        Column("status", String(32)),
        Column("province", String(8)),
        Column("kind", String(32)),
        Column("updated_at", String(40), nullable=False),
        Column("doc", Text, nullable=False),
    )
    for column in ("party", "status", "province", "kind"):
        Index(f"{p}documents_{column}", documents.c.view, documents.c[column])
    return Tables(generation, md, projects, approvals, shipments,
                  timeline, positions, offsets, chains, held, documents)


TABLES = {g: _build(g) for g in GENERATIONS}
