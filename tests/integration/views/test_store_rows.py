"""``insert_rows`` (the views' bulk INSERT, straight to the driver) writes what SQLAlchemy's
own ``conn.execute(table.insert(), rows)`` writes, on SQLite and on PostgreSQL, and refuses
what it cannot write as given."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import CompileError, IntegrityError, StatementError

from consumers.store import ViewStore
from consumers.store_batch import insert_rows


def _shipments(prefix: str) -> list[dict[str, object]]:
    urdu = "\u0645\u0627\u0644 \u0631\u0648\u06a9\u0627 \u06af\u06cc\u0627"
    chinese = "\u8d27\u7269\u88ab\u6263"
    doc = f'{{"note": "{urdu} {chinese}"}}'
    return [
        {"subject": f"{prefix}-1", "party": "uscc:91", "status": "held", "province": "GB",
         "on_hold": True, "updated_at": "2026-03-01T06:00:00.000000Z", "doc": doc},
        {"subject": f"{prefix}-2", "party": "uscc:92", "status": None, "province": None,
         "on_hold": False, "updated_at": "2026-03-02T06:00:00.000000Z", "doc": "{}"},
    ]


def _left_out(prefix: str) -> list[dict[str, object]]:
    """Status and province left out: NULL."""
    return [{"subject": f"{prefix}-3", "party": "uscc:93", "on_hold": False,
             "updated_at": "2026-03-03T06:00:00.000000Z", "doc": '{"x": 1}'}]


def _timeline(prefix: str) -> list[dict[str, object]]:
    return [{"subject": f"{prefix}-t", "position": n, "family": "shipments",
             "event_id": f"{prefix}-e{n}", "source": "urn:emining:cn:ent:x/erp",
             "type": "pk.emining.shipment.held.v1", "time": "2026-03-01T06:00:00.000000Z",
             "summary": "\u8d27\u7269\u88ab\u6263 held", "data": "{}", "effective": None,
             "superseded_by": None, "corrects": None, "log_partition": 2,
             "log_offset": 2**40 + n, "sequence": 10**15 + n, "record": '{"topic": "t"}'}
            for n in (1, 2)]


def _without_subject(rows: Any, prefix: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        d = dict(row._mapping)
        d["subject"] = d["subject"].removeprefix(prefix)
        d.pop("event_id", None)
        out.append(d)
    return out


async def test_insert_rows_writes_what_sqlalchemy_writes(store_url: str) -> None:
    store = ViewStore(store_url)
    await store.open()
    try:
        async with store.writing() as (conn, t):
            await insert_rows(conn, t.shipments, _shipments("fast"))
            await conn.execute(t.shipments.insert(), _shipments("core"))
            await insert_rows(conn, t.shipments, _left_out("fast"))
            await conn.execute(t.shipments.insert(), _left_out("core"))
            await insert_rows(conn, t.timeline, _timeline("fast"))
            await conn.execute(t.timeline.insert(), _timeline("core"))
            await insert_rows(conn, t.shipments, [])  # nothing: no statement
        async with store.reading() as (conn, t):
            s, tl = t.shipments, t.timeline
            fast = (await conn.execute(select(s).where(s.c.subject.like("fast-%"))
                                       .order_by(s.c.subject))).all()
            core = (await conn.execute(select(s).where(s.c.subject.like("core-%"))
                                       .order_by(s.c.subject))).all()
            fast_tl = (await conn.execute(select(tl).where(tl.c.subject == "fast-t")
                                          .order_by(tl.c.position))).all()
            core_tl = (await conn.execute(select(tl).where(tl.c.subject == "core-t")
                                          .order_by(tl.c.position))).all()
    finally:
        await store.close()
    assert len(fast) == 3
    assert _without_subject(fast, "fast") == _without_subject(core, "core")
    assert [r.on_hold for r in fast] == [True, False, False]
    assert fast[2].status is None
    assert fast[2].province is None
    assert fast[1].province is None
    assert "\u0645\u0627\u0644" in fast[0].doc
    assert "\u8d27\u7269" in fast[0].doc
    assert _without_subject(fast_tl, "fast") == _without_subject(core_tl, "core")
    assert [r.log_offset for r in fast_tl] == [2**40 + 1, 2**40 + 2]
    assert [r.sequence for r in fast_tl] == [10**15 + 1, 10**15 + 2]


async def test_insert_rows_refuses_what_it_cannot_write_as_given(store_url: str) -> None:
    store = ViewStore(store_url)
    await store.open()
    try:
        row = _shipments("bad")[0]
        with pytest.raises(CompileError, match="Unconsumed column names: colour"):
            async with store.writing() as (conn, t):
                await insert_rows(conn, t.shipments, [row | {"colour": "red"}])
        with pytest.raises(ValueError, match="do not all have the same columns"):
            async with store.writing() as (conn, t):
                await insert_rows(conn, t.shipments, [row, _left_out("bad")[0]])
        # the boolean's own conversion refuses what is not one (SQLAlchemy's Boolean would too;
        # written as given, SQLite would keep a 2 and asyncpg refuse it)
        with pytest.raises((ValueError, TypeError, StatementError)):
            async with store.writing() as (conn, t):
                await insert_rows(conn, t.shipments, [row | {"on_hold": 2}])
        with pytest.raises((ValueError, TypeError, StatementError)):
            async with store.writing() as (conn, t):
                await insert_rows(conn, t.shipments, [row | {"on_hold": "false"}])
        with pytest.raises(IntegrityError):  # the same subject twice: the primary key holds
            async with store.writing() as (conn, t):
                await insert_rows(conn, t.shipments, [row, row])
        async with store.reading() as (conn, t):
            left = (await conn.execute(select(t.shipments.c.subject))).all()
    finally:
        await store.close()
    assert left == []  # each refused batch rolled back whole
