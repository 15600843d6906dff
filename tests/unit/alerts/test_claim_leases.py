"""Who may claim an undelivered alert: nobody else while a worker's lease runs, the worker itself
again, anyone once the lease has ended; a delivered one never (``consumers.alerts.store``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from consumers.alerts import tables as t
from consumers.alerts.store import Delivered, claim, mark_delivered

LEASE = timedelta(minutes=2)
NOW = datetime(2031, 3, 4, 5, 6, tzinfo=UTC)


async def test_a_lease_keeps_others_out_until_it_ends() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(t.metadata.create_all)
            await conn.execute(insert(t.alerts), [
                {"alert_id": f"a{i}", "recipient": "urn:emining:pk:gov:x", "rule": "r",
                 "about": "s", "topic": "emining.alerts.x", "raised_at": "2031", "doc": "{}",
                 "attempts": 0} for i in range(4)])

            async def ids(worker: str, after: timedelta, limit: int = 10) -> list[tuple[str, int]]:
                jobs = await claim(conn, worker, NOW + after, LEASE, limit)
                return [(j.alert_id, j.attempts) for j in jobs]

            assert await ids("w1", timedelta(0), limit=2) == [("a0", 1), ("a1", 1)]
            # a0 and a1 are w1's for two minutes: w2 gets the others
            assert await ids("w2", timedelta(minutes=1)) == [("a2", 1), ("a3", 1)]
            assert await ids("w3", timedelta(minutes=1)) == []
            # a worker may take its own claims again (a retry after a failed send)
            assert await ids("w1", timedelta(minutes=1, seconds=30)) == [("a0", 2), ("a1", 2)]
            await mark_delivered(conn, [Delivered("a1", "emining.alerts.x", 0, 7)],
                                 NOW + timedelta(minutes=2))
            # w1's lease (renewed at 1:30) ended at 3:30, w2's (from 1:00) at 3:00
            assert await ids("w3", timedelta(minutes=3, seconds=15)) == [("a2", 2), ("a3", 2)]
            assert await ids("w3", timedelta(minutes=3, seconds=45)) == [
                ("a0", 3), ("a2", 3), ("a3", 3)]  # a1 was delivered
            a = t.alerts
            delivered = (await conn.execute(
                select(a.c.delivered_at, a.c.log_partition, a.c.log_offset, a.c.claimed_by,
                       a.c.claimed_until).where(a.c.alert_id == "a1"))).one()
            assert tuple(delivered) == ("2031-03-04T05:08:00.000000Z", 0, 7, None, None)
            # the next attempt knows when the one before began (to look for a copy it sent)
            [again] = await claim(conn, "w4", NOW + timedelta(minutes=6), LEASE, 1)
            assert again.alert_id == "a0"
            assert again.previous_claim == NOW + timedelta(minutes=3, seconds=45)
    finally:
        await engine.dispose()
