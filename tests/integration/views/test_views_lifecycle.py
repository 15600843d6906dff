"""Impossible steps on the real broker: validly signed, chained by their emitters' SDK, refused by
the views as ``invalid_transition`` (dead-lettered, the view untouched), and raised to the
emitter and the platform as security alerts."""

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
SHIPMENT = "SHP-2026-000123"  # the examples' shipment, exported by the same firm
MMDD = scenario.BA_MMDD
CUSTOMS = scenario.CUSTOMS


async def _security_alerts(kafka: KafkaAccess, org: str, start: dict[int, int],
                           want: int) -> list[AlertRaised]:
    """The ``invalid_transition`` security alerts on ``org``'s topic, once ``want`` arrived."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        found = [a for a in await alerts_since(kafka, org, start)
                 if a.rule is AlertRule.SECURITY_REJECTION
                 and a.details.get("reason") == "invalid_transition"]
        if len(found) >= want or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.3)


async def test_an_impossible_step_is_dead_lettered_leaves_the_view_and_alerts_its_emitter(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    start = await ends(kafka_access, [scenario.PLATFORM, MMDD, FIRM])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    t = NOW - timedelta(days=2)  # within the skew: judged by its lifecycle, not its date
    # a title: applied for, withdrawn by the applicant, then "granted" by the authority
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.application.received", received_at=t.isoformat()),
        t, "lc-received")
    await publish(bus, FIRM, scenario.event("pk.emining.approval.licence.application.withdrawn"),
                  t + timedelta(days=1), "lc-withdrawn")
    await publish(bus, MMDD, scenario.event("pk.emining.approval.licence.granted"),
                  t + timedelta(days=2), "lc-granted")
    # a shipment: planned, loaded, departed, declared, held by customs, then "departed" again
    for n, name in enumerate(("planned", "lot.loaded", "departed",
                              "customs.declaration.filed")):
        await publish(bus, FIRM, scenario.event(f"pk.emining.shipment.{name}"),
                      t + timedelta(hours=n), f"lc-{name}")
    await publish(bus, CUSTOMS, scenario.event("pk.emining.shipment.customs.held"),
                  t + timedelta(hours=5), "lc-held")
    await publish(bus, FIRM, scenario.event("pk.emining.shipment.departed"),
                  t + timedelta(hours=6), "lc-departed-again")

    config = views_config(kafka_access, view_topics, store_url)
    async with consuming(config, plugin(kafka_access, ManualClock(NOW), tmp_path / "chains")):
        await caught_up(store_url, config)
        to_mmdd = await _security_alerts(kafka_access, MMDD, start[MMDD], 1)
        to_firm = await _security_alerts(kafka_access, FIRM, start[FIRM], 1)
        to_platform = await _security_alerts(kafka_access, scenario.PLATFORM,
                                             start[scenario.PLATFORM], 2)

    dead = {dict(r.headers)["ce_id"].decode(): r for r in await read_topic(
        kafka_access, view_topics.dlq)}
    assert set(dead) == {"lc-granted", "lc-departed-again"}
    grant, departure = dead["lc-granted"], dead["lc-departed-again"]
    assert dict(grant.headers)["dlq_reason"] == b"invalid_transition"
    assert dict(departure.headers)["dlq_reason"] == b"invalid_transition"
    assert dict(grant.headers)["dlq_id"].decode().startswith(f"{view_topics.approvals}:")
    assert dict(departure.headers)["dlq_id"].decode().startswith(f"{view_topics.shipments}:")

    store = ViewStore(store_url)
    await store.open()
    try:
        title = await get_view(store, "approvals", TITLE)
        shipment = await get_view(store, "shipments", SHIPMENT)
    finally:
        await store.close()
    assert title is not None
    assert (title["status"], title["events"], title["granted_on"]) == ("withdrawn", 2, None)
    assert shipment is not None
    assert (shipment["status"], shipment["on_hold"], shipment["events"]) == ("held", True, 5)
    assert shipment["leg"]["stage"] == "at_exit"  # a departure would have put it on the road

    [told_mmdd] = to_mmdd
    assert told_mmdd.cause.key == dict(grant.headers)["dlq_id"].decode()
    assert told_mmdd.details["detail"] == (
        "approval.licence.granted: withdrawn → granted is not a step of a mineral title "
        "(granted follows: (new), received, acknowledged, resubmitted)")
    [told_firm] = to_firm
    assert told_firm.cause.key == dict(departure.headers)["dlq_id"].decode()
    assert told_firm.details["detail"] == (
        "shipment.departed: held → departed is not a step of a shipment "
        "(departed follows: loaded)")
    assert sorted(a.cause.key for a in to_platform) == sorted(
        [told_mmdd.cause.key, told_firm.cause.key])
