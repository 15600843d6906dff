"""Claiming a channel's deliveries with several workers at once, on SQLite and on PostgreSQL.

Two delivery processes (``emining alerts deliver`` twice, or beside ``views run``) share the
outbox: each delivery is claimed by one of them, and a worker whose lease ended before it
recorded cannot overwrite the outcome of the worker that claimed the delivery again. No broker:
the database is the whole story (``EMINING_REQUIRE_POSTGRES=1`` fails instead of skipping when
no PostgreSQL server can be started).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from consumers.alerts import outbox
from consumers.alerts.outbox import Job
from consumers.alerts.store import AlertStore, record_alerts
from consumers.alerts.webhooks import WEBHOOK
from consumers.store import ViewStore
from schemas.envelope import format_time
from tests.integration.alerts.conftest import NOW, customs_hold_alert, unique_firm
from tests.integration.views.conftest import fresh_database, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration

TABLES = WEBHOOK.tables
LEASE = timedelta(minutes=30)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'views.sqlite'}"
    return await fresh_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def stores(db_url: str) -> AsyncIterator[tuple[AlertStore, AlertStore]]:
    """Two stores on one database: two processes, each with its own connections."""
    first, second = AlertStore(ViewStore(db_url)), AlertStore(ViewStore(db_url))
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.views.close()
        await second.views.close()


async def _queued(store: AlertStore, alerts: int, targets: int) -> set[tuple[str, str]]:
    """``alerts`` alerts to one organisation with ``targets`` webhooks: every delivery queued."""
    firm = unique_firm()
    raised = [customs_hold_alert(firm, f"SHP-2026-{n:06d}") for n in range(alerts)]
    async with store.writing() as conn:
        hooks = [await outbox.add_target(conn, TABLES, firm, f"https://h{n}.example/in",
                                         "whsec_x", {}, NOW) for n in range(targets)]
        assert len(await record_alerts(conn, raised)) == alerts
        queued = await outbox.queue(conn, TABLES, [a.alert_id for a in raised], format_time(NOW))
    assert queued == alerts * targets
    return {(a.alert_id, h.id) for a in raised for h in hooks}


async def _claim_all(store: AlertStore, limit: int) -> list[tuple[str, str]]:
    """Claim batches until none is left; each transaction stays open a moment after its claim
    (a slow commit), so the two claimers' transactions overlap."""
    taken: list[tuple[str, str]] = []
    while True:
        async with store.writing() as conn:
            jobs = await outbox.claim(conn, TABLES, NOW, LEASE, limit)
            await asyncio.sleep(0.02)
        if not jobs:
            return taken
        taken += [(j.alert.alert_id, j.endpoint.id) for j in jobs]


async def test_two_concurrent_claimers_claim_each_delivery_once(
    stores: tuple[AlertStore, AlertStore],
) -> None:
    first, second = stores
    expected = await _queued(first, alerts=15, targets=2)
    mine, theirs = await asyncio.gather(_claim_all(first, 4), _claim_all(second, 4))
    assert len(mine) + len(theirs) == len(expected)  # nobody took a delivery twice
    assert set(mine) | set(theirs) == expected  # and none was left behind
    assert not set(mine) & set(theirs)
    async with first.writing() as conn:  # all leased: no third claimer gets any before it ends
        assert await outbox.claim(conn, TABLES, NOW + LEASE / 2, LEASE, 100) == []


async def _record(store: AlertStore, job: Job, status: str, attempts: int,
                  error: str | None, at: timedelta) -> list[Job]:
    async with store.writing() as conn:
        return await outbox.record(conn, TABLES, [(job, status, attempts, error)], NOW + at)


async def _status(store: AlertStore, job: Job) -> tuple[str, int]:
    async with store.reading() as conn:
        return (await outbox.delivery_status(conn, TABLES, job.alert.alert_id))[job.endpoint.id]


async def _claim_one(store: AlertStore, at: timedelta) -> Job:
    async with store.writing() as conn:
        [job] = await outbox.claim(conn, TABLES, NOW + at, LEASE, 10)
    return job


async def test_a_worker_whose_lease_ended_cannot_overwrite_the_new_claims_outcome(
    stores: tuple[AlertStore, AlertStore],
) -> None:
    slow, other = stores
    await _queued(slow, alerts=1, targets=1)
    stale = await _claim_one(slow, timedelta(0))
    fresh = await _claim_one(other, LEASE + timedelta(minutes=1))  # the lease ended: claimed again
    assert fresh.claim != stale.claim
    assert await _record(other, fresh, "delivered", 1, None, LEASE * 2) == []
    lost = await _record(slow, stale, "dead", 6, "6 attempt(s), last: HTTP 503", LEASE * 2)
    assert lost == [stale]
    assert await _status(other, fresh) == ("delivered", 1)  # the late "dead" did not land


async def test_a_late_record_before_the_new_claims_record_is_dropped_too(
    stores: tuple[AlertStore, AlertStore],
) -> None:
    slow, other = stores
    await _queued(slow, alerts=1, targets=1)
    stale = await _claim_one(slow, timedelta(0))
    fresh = await _claim_one(other, LEASE + timedelta(minutes=1))
    assert await _record(slow, stale, "delivered", 1, None, LEASE * 2) == [stale]
    assert await _status(other, fresh) == ("sending", 0)  # still the new claim's
    assert await _record(other, fresh, "dead", 3, "3 attempt(s), last: HTTP 500", LEASE * 2) == []
    assert await _status(other, fresh) == ("dead", 3)


async def test_a_worker_past_its_lease_still_records_when_nobody_claimed_again(
    stores: tuple[AlertStore, AlertStore],
) -> None:
    store, _ = stores
    await _queued(store, alerts=1, targets=1)
    job = await _claim_one(store, timedelta(0))
    assert await _record(store, job, "delivered", 2, None, LEASE * 3) == []
    assert await _status(store, job) == ("delivered", 2)
