"""Time you can trust, on the real broker: the shared topics stamp LogAppendTime, so a validly
signed decision dated in the future or backdated beyond the skew is dead-lettered as
``time_skew`` and its emitter told; inside a backfill window the operator signed, the same
backdated decision applies and, appended now, still reaches the holder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consumers.alerts.clock import ManualClock
from consumers.config import ViewTopics
from consumers.store import ViewStore
from consumers.store_read import get_view
from schemas.alerts import AlertRaised, AlertRule
from schemas.participants import BackfillWindowOpened
from tests.integration.alerts.pipeline import (
    FIRM,
    alerts_since,
    consuming,
    ends,
    plugin,
    publish,
    views_config,
)
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from tests.integration.views.conftest import caught_up, read_topic
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TITLE = "BA-EL-2025-0153"  # the examples' title, held by the scenario's first firm
MMDD = scenario.BA_MMDD
MONTH_AGO = NOW - timedelta(days=30)
"""After the scenario's own history window, and older than the alerts' 14-day horizon."""


def _suspension(on: datetime) -> object:
    return scenario.event("pk.emining.approval.licence.suspended",
                          suspended_on=on.date().isoformat())


async def _alerts(kafka: KafkaAccess, org: str, start: dict[int, int], wanted: set[str],
                  ) -> list[AlertRaised]:
    """Alerts on ``org``'s topic since ``start``, once one per cause key in ``wanted`` is there."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        found = await alerts_since(kafka, org, start)
        keys = {a.cause.key for a in found}
        arrived = all(any(k.endswith(w) for k in keys) for w in wanted)
        if arrived or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.3)


async def test_future_and_backdated_decisions_are_refused_unless_a_backfill_window_admits_them(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    start = await ends(kafka_access, [scenario.PLATFORM, MMDD, FIRM])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    t = NOW - timedelta(hours=6)
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.application.received", received_at=t.isoformat()),
        t, "tm-received")
    await publish(bus, MMDD, scenario.event("pk.emining.approval.licence.granted"),
                  t + timedelta(hours=1), "tm-granted")
    # validly signed, by the competent authority, but dated where no decision can be
    await publish(bus, MMDD, _suspension(NOW), datetime(2031, 1, 1, tzinfo=UTC), "tm-2031")
    await publish(bus, MMDD, _suspension(MONTH_AGO), MONTH_AGO, "tm-backdated")
    # the operator opens a backfill window for the department's archive, then it is loaded
    await asyncio.sleep(0.05)
    opened = datetime.now(UTC)  # after the backdated record was appended: it stays refused
    await publish(bus, scenario.PLATFORM, BackfillWindowOpened(
        org_id=MMDD, window_id="mmdd-archive", events_from=NOW - timedelta(days=40),
        events_until=NOW - timedelta(days=20), open_from=opened,
        open_until=opened + timedelta(hours=1), reason="loading the department's archive"),
        NOW, "tm-window")
    await publish(bus, MMDD, _suspension(MONTH_AGO), MONTH_AGO, "tm-archived")

    config = views_config(kafka_access, view_topics, store_url)
    async with consuming(config, plugin(kafka_access, ManualClock(NOW), tmp_path / "chains")):
        await caught_up(store_url, config)
        dead = {dict(r.headers)["ce_id"].decode(): r for r in await read_topic(
            kafka_access, view_topics.dlq)}
        letters = {dict(r.headers)["dlq_id"].decode() for r in dead.values()}
        told_mmdd = await _alerts(kafka_access, MMDD, start[MMDD], letters)
        to_firm = await _alerts(kafka_access, FIRM, start[FIRM], {"#tm-archived"})

    assert set(dead) == {"tm-2031", "tm-backdated"}
    for record in dead.values():
        assert dict(record.headers)["dlq_reason"] == b"time_skew"
    assert b"after the broker appended it" in dict(dead["tm-2031"].headers)["dlq_detail"]
    assert b"backfill window" in dict(dead["tm-backdated"].headers)["dlq_detail"]

    store = ViewStore(store_url)
    await store.open()
    try:
        title = await get_view(store, "approvals", TITLE)
    finally:
        await store.close()
    assert title is not None
    assert (title["status"], title["events"]) == ("suspended", 3)

    skew_alerts = [a for a in told_mmdd if a.rule is AlertRule.SECURITY_REJECTION
                   and a.details.get("reason") == "time_skew"]
    assert sorted(a.cause.key for a in skew_alerts) == sorted(letters)
    decided = [a for a in to_firm if a.cause.key.endswith("#tm-archived")]
    assert len(decided) == 1, "dated a month ago, appended now: the holder is told"
