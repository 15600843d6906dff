"""Accountable reads: who saw which restricted data, when, kept beside the views for auditors.

Every answer that reveals restricted fields (personal data, commercial terms) to an entitled
caller adds one row: the person or client, its organisation, how it signed in, the route, the
subjects and the field paths shown. The table lives outside the views' generations, so a rebuild
keeps it. Auditors read it with ``GET /v1/audit/reads`` or ``emining audit reads``.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, select

from consumers.store import ViewStore
from schemas.access import AuthMethod, Principal, UserRole
from schemas.alerts import PLATFORM_ORG

log = structlog.get_logger("consumers.readlog")

metadata = MetaData()
reads = Table(
    "read_log", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", String(40), nullable=False),
    Column("principal", String(300), nullable=False),
    Column("org", String(120), nullable=False),
    Column("via", String(20), nullable=False),
    Column("route", String(200), nullable=False),
    Column("subjects", Text, nullable=False),
    Column("fields", Text, nullable=False),
    Index("read_log_org", "org", "seq"),
)


@dataclass(frozen=True, slots=True)
class Read:
    seq: int
    at: str
    principal: str
    org: str
    via: str
    route: str
    subjects: list[str]
    fields: list[str]


class ReadLog:
    """The ``read_log`` table in the database of a ``ViewStore``."""

    def __init__(self, views: ViewStore) -> None:
        self.views = views

    async def create_table(self) -> None:
        async with self.views.writing() as (conn, _):
            await conn.run_sync(metadata.create_all)

    async def record(self, principal: Principal, route: str, subjects: Sequence[str],
                     fields: Sequence[str]) -> None:
        """One read of restricted data; also a log line, so it reaches the log pipeline too."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        who = principal.subject
        async with self.views.writing() as (conn, _):
            await conn.execute(reads.insert().values(
                at=at, principal=who, org=principal.org or "", via=principal.method.value,
                route=route, subjects=json.dumps(sorted(set(subjects))),
                fields=json.dumps(sorted(set(fields)))))
        log.info("restricted_data_read", org=principal.org, principal=who, route=route,
                 subjects=len(set(subjects)), fields=sorted(set(fields)))

    async def record_local(self, family: str, docs: list[dict[str, Any]], route: str) -> None:
        """A read of ``docs`` by the operator's shell (``emining views …``), if it showed any
        restricted field: the CLI reads the store directly, so it reads as the operator."""
        from consumers.policy import restricted_shown  # noqa: PLC0415 - policy imports this room

        shown = restricted_shown(family, docs)
        if shown:
            await self.record(local_operator(), route, list(shown),
                              sorted({p for v in shown.values() for p in v}))

    async def entries(self, *, org: str | None = None, after: int = 0,
                   limit: int = 100) -> list[Read]:
        async with self.views.reading() as (conn, _):
            query = select(reads).where(reads.c.seq > after)
            if org:
                query = query.where(reads.c.org == org)
            rows = await conn.execute(query.order_by(reads.c.seq).limit(limit))
            return [Read(r.seq, r.at, r.principal, r.org, r.via, r.route,
                         json.loads(r.subjects), json.loads(r.fields)) for r in rows]


def local_operator() -> Principal:
    """Whoever runs the CLI on the server: the platform's operator, named by the OS user."""
    return Principal(org=PLATFORM_ORG, roles=frozenset({UserRole.OPERATOR}),
                     subject=f"cli:{getpass.getuser()}", method=AuthMethod.LOCAL)
