"""A claim of 2,000 alerts works on a SQLite that allows 999 variables per statement (builds
before 3.32): the ``IN (…)`` lists of claim, release and the channels' queue go in chunks."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.util import await_only

from consumers.alerts import tables as t
from consumers.alerts.delivery import CLAIM_BATCH
from consumers.alerts.store import Delivered, claim, mark_delivered, release

OLD_LIMIT = 999


@pytest.mark.asyncio
async def test_a_full_claim_goes_through_a_999_variable_limit() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")

    @event.listens_for(engine.sync_engine, "connect")
    def _old_sqlite(dbapi_conn: Any, _record: Any) -> None:
        driver = dbapi_conn.driver_connection
        await_only(driver._execute(lambda: driver._connection.setlimit(
            sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, OLD_LIMIT)))

    n = CLAIM_BATCH
    assert n > OLD_LIMIT, "the premise: one IN list of the claim would not fit"
    now = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.run_sync(t.metadata.create_all)
        await conn.execute(insert(t.alerts), [
            {"alert_id": f"a{i:05d}", "recipient": "urn:emining:pk:gov:x", "rule": "r",
             "about": "s", "topic": "emining.alerts.x", "raised_at": "2031", "doc": "{}",
             "attempts": 0} for i in range(n)])
        jobs = await claim(conn, "w1", now, timedelta(minutes=2), n)
        assert len(jobs) == n
        assert {j.attempts for j in jobs} == {1}
        await release(conn, [j.alert_id for j in jobs])
        free = await conn.scalar(select(func.count()).where(t.alerts.c.claimed_by.is_(None)))
        assert free == n, "every claim given back"
        again = await claim(conn, "w2", now, timedelta(minutes=2), n)
        assert {j.attempts for j in again} == {2}
        await mark_delivered(conn, [Delivered(j.alert_id, "emining.alerts.x", 0, i)
                                    for i, j in enumerate(again)], now)
        done = await conn.scalar(select(func.count()).where(t.alerts.c.delivered_at.isnot(None)))
        assert done == n
    await engine.dispose()
