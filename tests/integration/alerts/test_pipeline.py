"""Publish → views → rules → outbox → signed alert on each recipient's topic, on the real broker.

The clock is a ``ManualClock`` the test moves; deadlines fire on it with no event arriving, across
a restart of the consumer, once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from consumers.alerts.clock import ManualClock
from consumers.alerts.relayed_metrics import Relayed
from consumers.config import ViewTopics
from producers.metrics import PUBLISHED
from producers.publisher import Publisher
from schemas.alerts import AlertRule, Severity
from schemas.events.examples import OPERATOR
from schemas.signing import PrivateKey
from tests.integration.alerts.pipeline import (
    FIRM,
    alerts_since,
    consuming,
    ends,
    plugin,
    publish,
    settled,
    views_config,
)
from tests.integration.views import scenario
from tests.integration.views.bus import Bus, RenamingSender, renames
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
TITLE = "BA-EL-2025-0153"
MMDD = scenario.BA_MMDD
CUSTOMS = scenario.CUSTOMS


def published() -> float:
    """Alerts acknowledged as the consumer's metrics endpoint serves them: its own count plus
    what its delivery process counted (``relayed_metrics``)."""
    [family] = Relayed(PUBLISHED).collect()
    return sum(s.value for s in family.samples
               if s.name.endswith("_total") and s.labels == {"outcome": "acknowledged"})


@pytest.mark.parametrize("delivery", ["loop", "process"])
async def test_events_raise_alerts_for_the_right_recipients_on_their_topics(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path, delivery: str,
) -> None:
    start = await ends(kafka_access, [FIRM, MMDD, CUSTOMS])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    clock = ManualClock(NOW)
    received = NOW - timedelta(days=10)
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.application.received", received_at=received.isoformat()),
        NOW - timedelta(days=2), "evt-received")  # entered within the skew, received earlier
    notified = (NOW - timedelta(days=1)).date()
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.deficiency.notified", notified_on=notified.isoformat(),
        respond_by=(notified + timedelta(days=30)).isoformat()), NOW - timedelta(days=1),
        "evt-deficiency")
    await publish(bus, FIRM, scenario.event("pk.emining.shipment.planned"),
                  NOW - timedelta(hours=2), "evt-planned")
    await publish(bus, FIRM, scenario.event("pk.emining.shipment.lot.loaded"),
                  NOW - timedelta(hours=1, minutes=50), "evt-loaded")
    await publish(bus, FIRM, scenario.event("pk.emining.shipment.departed"),
                  NOW - timedelta(hours=1, minutes=40), "evt-departed")
    await publish(bus, FIRM, scenario.event("pk.emining.shipment.customs.declaration.filed",
                                            export_approvals=[]),
                  NOW - timedelta(hours=1), "evt-declared")
    await publish(bus, CUSTOMS, scenario.event("pk.emining.shipment.customs.held"),
                  NOW - timedelta(minutes=5), "evt-held")
    before = published()
    async with consuming(views_config(kafka_access, view_topics, store_url),
                         plugin(kafka_access, clock, tmp_path / "chains",
                                own_process=delivery == "process")):
        await settled(store_url, 5)
    assert published() - before == 5  # counted where they were published, served here
    firm = await alerts_since(kafka_access, FIRM, start[FIRM])
    customs = await alerts_since(kafka_access, CUSTOMS, start[CUSTOMS])
    assert await alerts_since(kafka_access, MMDD, start[MMDD]) == []
    # subjects on different partitions: the order across them is not defined
    firm.sort(key=lambda a: a.rule.value)
    customs.sort(key=lambda a: a.rule.value)
    assert [(a.rule, a.about) for a in firm] == [
        (AlertRule.CUSTOMS_HOLD, "SHP-2026-000123"),
        (AlertRule.DEFICIENCY_NOTIFIED, TITLE),
        (AlertRule.EXPORT_WITHOUT_APPROVAL, "SHP-2026-000123"),
    ]
    assert [a.rule for a in customs] == [AlertRule.CUSTOMS_HOLD,
                                         AlertRule.EXPORT_WITHOUT_APPROVAL]
    deficiency = firm[1]
    assert (deficiency.language.value, deficiency.due_on) == ("zh", notified + timedelta(days=30))
    assert deficiency.texts.en == (
        "Mines & Minerals Development Dept, Balochistan found application BA-EL-2025-0153 "
        "incomplete (notice MMDD-DN-2025-211, items to address: 2). Respond by "
        f"{(notified + timedelta(days=30)):%-d %B %Y}.")
    assert deficiency.text == deficiency.texts.zh
    assert customs[0].texts.en.startswith("Shipment SHP-2026-000123 of xinjiang-example Co., Ltd. "
                                          "is held by Pakistan Customs since ")
    assert customs[1].severity is Severity.CRITICAL


async def test_deadlines_fire_on_the_clock_across_a_restart_exactly_once(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    start = await ends(kafka_access, [FIRM, MMDD])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    config = views_config(kafka_access, view_topics, store_url)
    granted = NOW.date() - timedelta(days=2)
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.application.received",
        received_at=(NOW - timedelta(days=40)).isoformat()), NOW - timedelta(days=2, hours=12),
        "evt-rcv")
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.licence.granted", granted_on=granted.isoformat(), term_years=3,
        expires_on=date(granted.year + 3, granted.month, granted.day).isoformat(),
        conditions=[]), NOW - timedelta(days=2), "evt-granted")
    # two shipments planned to leave after the restart below: one covered by an approved export
    # approval (LPCO) naming it, one not (its exporter is warned 14 days before the departure)
    departure = (NOW + timedelta(days=205)).date().isoformat()
    for shipment in ("SHP-2026-000501", "SHP-2026-000502"):
        await publish(bus, FIRM, scenario.event(
            "pk.emining.shipment.planned", shipment_id=shipment,
            planned_departure_on=departure), NOW - timedelta(days=1), f"evt-{shipment}")
    await publish(bus, MMDD, scenario.event(
        "pk.emining.approval.export.decided", lpco_number="LPCO-2026-000777",
        shipment_id="SHP-2026-000501", decided_at=(NOW - timedelta(hours=20)).isoformat(),
        valid_until=(NOW + timedelta(days=260)).date().isoformat()),
        NOW - timedelta(hours=20), "evt-lpco")
    clock = ManualClock(NOW)
    async with consuming(config, plugin(kafka_access, clock, tmp_path / "chains")):
        await settled(store_url, 2)  # the grant and the LPCO, to the holder
    # the consumer is down while time passes; no event will arrive
    clock.set(NOW + timedelta(days=200))
    async with consuming(config, plugin(kafka_access, clock, tmp_path / "chains")):
        await settled(store_url, 5)  # work not commenced (holder, authority), LPCO missing
    async with consuming(config, plugin(kafka_access, clock, tmp_path / "chains")):
        await settled(store_url, 5)  # a third start fires nothing again
    firm = await alerts_since(kafka_access, FIRM, start[FIRM])
    authority = await alerts_since(kafka_access, MMDD, start[MMDD])
    firm.sort(key=lambda a: (a.rule.value, a.about))  # subjects on different partitions
    assert [(a.rule, a.about) for a in firm] == [
        (AlertRule.APPROVAL_DECIDED, TITLE), (AlertRule.APPROVAL_DECIDED, "LPCO-2026-000777"),
        (AlertRule.EXPORT_APPROVAL_MISSING, "SHP-2026-000502"),
        (AlertRule.WORK_NOT_COMMENCED, TITLE)]
    assert [a.rule for a in authority] == [AlertRule.WORK_NOT_COMMENCED]
    work = authority[0]
    assert work.cause.key.startswith(f"work_not_commenced:{TITLE}:")
    assert work.raised_at == NOW + timedelta(days=200)
    assert work.texts.en.startswith(f"Work under exploration licence {TITLE} of "
                                    f"xinjiang-example Co., Ltd., granted on ")
    assert scenario.FIRMS[FIRM] == OPERATOR  # the examples' holder is the scenario's firm


async def test_a_forged_event_raises_security_alerts_to_the_platform_and_the_victim(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    start = await ends(kafka_access, [scenario.PLATFORM, MMDD, FIRM])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    forger = PrivateKey.generate(MMDD)  # claims to be the licensing authority
    async with (
        RenamingSender(kafka_access, renames(view_topics)) as sender,
        Publisher(key=forger, source=f"{MMDD}/gateway", state_dir=tmp_path / "forger",
                  sender=sender) as publisher,
    ):
        await publisher.publish(scenario.event("pk.emining.approval.licence.granted"),
                                event_id="evt-forged", time=NOW)
    async with consuming(views_config(kafka_access, view_topics, store_url),
                         plugin(kafka_access, ManualClock(NOW), tmp_path / "chains")):
        await settled(store_url, 2)
    [to_platform] = await alerts_since(kafka_access, scenario.PLATFORM,
                                       start[scenario.PLATFORM])
    [to_victim] = await alerts_since(kafka_access, MMDD, start[MMDD])
    assert await alerts_since(kafka_access, FIRM, start[FIRM]) == []  # no grant alert
    assert to_platform.rule is to_victim.rule is AlertRule.SECURITY_REJECTION
    assert to_victim.cause.key == to_platform.cause.key
    assert to_victim.cause.key.startswith(f"{view_topics.approvals}:")  # topic:partition:offset
    assert to_victim.details["reason"] == "unknown_key"
    assert to_victim.texts.en == (
        f"A record claiming to come from {MMDD}/gateway was refused on {view_topics.approvals}: "
        f"unknown signing key. It is in the dead-letter queue as {to_victim.cause.key}.")
