"""Time you can trust: an event's time against its append time, and backfill windows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from consumers.alerts.rules_events import event_notices
from consumers.audit.findings import Kind
from consumers.audit.inspect import Inspector, Standing
from consumers.audit.records import AuditTopics
from consumers.audit.records import RawRecord as AuditRecord
from consumers.verification import Accepted, Reason, Rejected
from producers.publisher import Draft
from schemas.participants import BackfillWindowClosed, BackfillWindowOpened
from schemas.registry import Registry, RegistryError, backfill_events, seed_events
from schemas.timing import LOG_APPEND_TIME, TimeBounds, appended_at, time_refusal
from schemas.topics import PROJECTS
from tests.integration.views import scenario
from tests.integration.views.parties import registry_seed
from tests.unit.views.harness import Log, Record, stage_for

XINJIANG = "urn:emining:cn:ent:xinjiang-example"
NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
BOUNDS = TimeBounds(future=timedelta(minutes=5), past=timedelta(days=3))


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _registry(*extra: object) -> Registry:
    """The scenario's organisations, keys and grants, without its backfill window."""
    registry = Registry()
    seed = registry_seed()
    keys = {org.id: scenario.key_of(org.id).public_key for org in seed.organisations}
    for event in seed_events(seed, keys, scenario.REGISTRY_FROM):
        registry.apply(event, scenario.REGISTRY_FROM)
    for event in extra:
        registry.apply(event, NOW)  # type: ignore[arg-type]
    return registry


def _window(**change: object) -> BackfillWindowOpened:
    values = {"org_id": XINJIANG, "window_id": "archive-2025",
              "events_from": datetime(2025, 1, 1, tzinfo=UTC),
              "events_until": datetime(2026, 1, 1, tzinfo=UTC),
              "open_from": NOW - timedelta(hours=1), "open_until": NOW + timedelta(hours=5),
              "reason": "loading the 2025 archive"}
    return BackfillWindowOpened.model_validate({**values, **change})


def _record(event_time: datetime, appended: datetime, *, stamped: bool = True) -> Record:
    log = Log()
    data = scenario.event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0042",
                          operator_uscc=scenario.FIRMS[XINJIANG], related_titles=[])
    record = log.record(log.seal(XINJIANG, Draft(data, time=event_time)))
    return replace(record, timestamp=_ms(appended),
                   timestamp_type=LOG_APPEND_TIME if stamped else 0)


# -- the rule ------------------------------------------------------------------------------

def test_times_within_the_skew_either_way_are_accepted():
    registry = _registry()
    for moment in (NOW + timedelta(minutes=4), NOW, NOW - timedelta(days=2, hours=23)):
        assert time_refusal(registry, XINJIANG, moment, NOW, BOUNDS) is None
    assert time_refusal(registry, XINJIANG, NOW + timedelta(minutes=6), NOW, BOUNDS) is not None
    assert time_refusal(registry, XINJIANG, NOW - timedelta(days=3, minutes=1), NOW,
                        BOUNDS) is not None


def test_a_future_time_is_refused_even_inside_a_backfill_window():
    registry = _registry(_window(events_until=datetime(2032, 1, 1, tzinfo=UTC)))
    why = time_refusal(registry, XINJIANG, datetime(2031, 1, 1, tzinfo=UTC), NOW, BOUNDS)
    assert why is not None
    assert "after the broker appended it" in why
    assert "at most 5 minutes ahead" in why
    far = time_refusal(registry, XINJIANG, datetime(9999, 12, 31, tzinfo=UTC), NOW, BOUNDS)
    assert far is not None
    assert "9999-12-31" in far


def test_a_backdated_time_is_refused_without_a_window_and_names_the_way_out():
    why = time_refusal(_registry(), XINJIANG, NOW - timedelta(days=365), NOW, BOUNDS)
    assert why is not None
    assert "365 days before the broker appended it" in why
    assert "backfill window" in why
    assert XINJIANG in why


def test_a_backfill_window_admits_only_its_source_its_dates_and_its_opening():
    registry = _registry(_window())
    inside = datetime(2025, 6, 1, tzinfo=UTC)
    assert time_refusal(registry, XINJIANG, inside, NOW, BOUNDS) is None
    # another organisation, a date outside the window, an append after it closed: refused
    other = "urn:emining:cn:ent:shanghai-example"
    assert time_refusal(registry, other, inside, NOW, BOUNDS) is not None
    assert time_refusal(registry, XINJIANG, datetime(2026, 2, 1, tzinfo=UTC), NOW,
                        BOUNDS) is not None
    assert time_refusal(registry, XINJIANG, inside, NOW + timedelta(hours=6), BOUNDS) is not None
    assert time_refusal(registry, XINJIANG, inside, NOW - timedelta(hours=2), BOUNDS) is not None


def test_closing_a_window_early_stops_later_appends_but_keeps_earlier_ones():
    registry = _registry(_window(), BackfillWindowClosed(
        org_id=XINJIANG, window_id="archive-2025", effective_at=NOW + timedelta(hours=1)))
    inside = datetime(2025, 6, 1, tzinfo=UTC)
    assert time_refusal(registry, XINJIANG, inside, NOW + timedelta(minutes=30), BOUNDS) is None
    assert time_refusal(registry, XINJIANG, inside, NOW + timedelta(hours=2), BOUNDS) is not None


def test_window_events_are_checked():
    with pytest.raises(ValidationError, match="events_until must be after events_from"):
        _window(events_until=datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="open_until must be after open_from"):
        _window(open_until=NOW - timedelta(hours=2))
    registry = _registry(_window())
    with pytest.raises(RegistryError, match="already has a backfill window archive-2025"):
        registry.apply(_window(), NOW)
    with pytest.raises(RegistryError, match="no backfill window other"):
        registry.apply(BackfillWindowClosed(org_id=XINJIANG, window_id="other",
                                            effective_at=NOW), NOW)


def test_backfill_events_open_one_window_per_organisation():
    orgs = [XINJIANG, scenario.BA_MMDD]
    events = backfill_events(orgs, "w1", (NOW - timedelta(days=9), NOW),
                             (NOW, NOW + timedelta(hours=1)), "migration")
    assert [(e.org_id, e.window_id) for e in events] == [(o, "w1") for o in orgs]
    registry = _registry(*events)
    for org in orgs:
        assert time_refusal(registry, org, NOW - timedelta(days=8), NOW, BOUNDS) is None


def test_only_broker_stamped_records_have_an_append_time():
    assert appended_at(_ms(NOW), LOG_APPEND_TIME) == NOW
    assert appended_at(_ms(NOW), 0) is None, "CreateTime is the producer's word, not evidence"
    assert appended_at(-1, LOG_APPEND_TIME) is None


# -- every reader applies it -----------------------------------------------------------------

def test_the_verification_stage_refuses_a_skewed_record_as_time_skew():
    backdated = _record(NOW - timedelta(days=365), NOW)
    verdict = stage_for(_registry()).check(backdated)
    assert isinstance(verdict, Rejected)
    assert verdict.reason is Reason.TIME_SKEW
    assert "backfill window" in verdict.detail
    assert isinstance(stage_for(_registry(_window(events_from=NOW - timedelta(days=400),
                                                  events_until=NOW)))
                      .check(backdated), Accepted)
    future = stage_for(_registry()).check(_record(NOW + timedelta(days=10), NOW))
    assert isinstance(future, Rejected)
    assert future.reason is Reason.TIME_SKEW
    assert isinstance(stage_for(_registry()).check(_record(NOW - timedelta(minutes=1), NOW)),
                      Accepted)


def test_a_record_the_broker_did_not_stamp_is_not_judged_by_its_producer_timestamp():
    verdict = stage_for(_registry()).check(_record(NOW - timedelta(days=365), NOW,
                                                   stamped=False))
    assert isinstance(verdict, Accepted)


def test_the_audit_inspector_names_a_skewed_record_with_its_position():
    record = _record(NOW - timedelta(days=365), NOW)
    audited = AuditRecord(PROJECTS, record.partition, 7, record.timestamp, record.key,
                          record.value, record.headers, record.timestamp_type)
    inspector = Inspector(_registry(), [scenario.key_of(scenario.PLATFORM).public_key],
                          AuditTopics())
    seen = inspector.inspect(audited)
    assert (seen.topic, seen.partition, seen.offset) == (PROJECTS, record.partition, 7)
    assert seen.standing is Standing.TIME_SKEW
    assert seen.standing.value == Kind.TIME_SKEW.value
    assert seen.standing.attributable, "still its source's chain link: no false gap after it"
    window = _registry(_window(events_from=NOW - timedelta(days=400), events_until=NOW))
    again = Inspector(window, [scenario.key_of(scenario.PLATFORM).public_key], AuditTopics())
    assert again.inspect(audited).standing is Standing.AUTHENTIC


def test_a_late_decision_still_alerts_but_a_replay_of_old_history_does_not():
    from consumers.views.facts import Fact  # noqa: PLC0415
    from tests.unit.alerts.world import context  # noqa: PLC0415

    ctx = context()
    data = scenario.event("pk.emining.approval.licence.suspended")
    old = Fact("e1", f"{scenario.BA_MMDD}/test", data.ce_type(), ctx.now - timedelta(days=365),
               data)
    assert event_notices(old, ctx) == [], "history replayed long after: silent"
    assert event_notices(old, ctx, arrived=ctx.now - timedelta(days=30)) == []
    late = event_notices(old, ctx, arrived=ctx.now - timedelta(minutes=1))
    assert late, "a backdated decision appended now reaches its recipients"
