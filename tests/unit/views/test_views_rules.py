"""What history decides: duplicates, replays, a firm speaking for others, and bad corrections.

Each refused record must leave every view exactly as it was.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime

import pytest

from consumers.verification import Reason
from consumers.views.families import FAMILIES
from producers.publisher import Draft
from schemas.envelope import seal
from schemas.topics import PROJECTS
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews, Record, fold_scenario

XINJIANG = "urn:emining:cn:ent:xinjiang-example"  # operator of story 0 (PRJ-BA-CHG-0001)
SHANGHAI = "urn:emining:cn:ent:shanghai-example"  # operator of story 1
AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
PROJECT = "PRJ-BA-CHG-0001"


@pytest.fixture
async def world() -> tuple[MemoryViews, Log]:
    return await fold_scenario(2)


async def _refused(views: MemoryViews, record: Record) -> tuple[Reason, str]:
    before = (copy.deepcopy(views.views), copy.deepcopy(views.timeline))
    [outcome] = await views.feed([record])
    assert outcome is not None, "the record should have been refused"
    assert (views.views, views.timeline) == before, "a refused record changed a view"
    return outcome.reason, outcome.detail


def _production(operator: str, project: str = PROJECT, period: str = "2026-05") -> object:
    return scenario.event("pk.emining.project.production.reported", project_id=project,
                          operator_uscc=operator, period=period)


async def test_the_same_event_delivered_again_is_a_duplicate(world):
    views, log = world
    first = log.records([scenario.story(0).steps[0]])[0]  # the registration, sealed afresh
    again = log.record(log.seal(XINJIANG, scenario.story(0).steps[0].draft))
    assert first.value == again.value
    reason, detail = await _refused(views, again)
    assert reason is Reason.DUPLICATE
    assert "already accepted" in detail


async def test_an_old_sequence_number_in_the_partition_is_a_replay_or_a_reorder(world):
    views, log = world
    source = f"{XINJIANG}/test"
    good = log.record(log.seal(XINJIANG, Draft(_production(scenario.FIRMS[XINJIANG]), time=AT)))
    assert await views.feed([good]) == [None]
    last = views.history.last_sequence[(good.topic, good.partition, source)]
    for sequence, expected in ((last, Reason.REPLAY), (last - 3, Reason.REORDER)):
        env = seal(_production(scenario.FIRMS[XINJIANG], period="2026-06"), source=source,
                   signer=scenario.key_of(XINJIANG).signer(), sequence=sequence,
                   prevhash="0" * 64, time=AT)
        reason, _ = await _refused(views, log.record(env))
        assert reason is expected


async def test_a_firm_reporting_for_another_firms_project_is_refused_as_own_subject(world):
    views, log = world
    record = log.record(log.seal(SHANGHAI, Draft(_production(scenario.FIRMS[SHANGHAI]), time=AT)))
    reason, detail = await _refused(views, record)
    assert reason is Reason.OWN_SUBJECT
    assert f"registered to {scenario.FIRMS[XINJIANG]}" in detail


async def test_a_firm_cannot_make_itself_operator_of_another_firms_project(world):
    views, log = world
    takeover = scenario.event(
        "pk.emining.project.ownership.changed", project_id=PROJECT,
        operator_uscc=scenario.FIRMS[XINJIANG], new_operator_uscc=scenario.FIRMS[SHANGHAI],
        new_operator_name={"en": "Shanghai"},
        joint_venture=[{"name": {"en": "S"}, "uscc": scenario.FIRMS[SHANGHAI], "share_pct": "100"}])
    reason, _ = await _refused(views, log.record(log.seal(SHANGHAI, Draft(takeover, time=AT))))
    assert reason is Reason.OWN_SUBJECT
    assert views.doc(PROJECT)["operator_uscc"] == scenario.FIRMS[XINJIANG]


async def test_the_operator_may_hand_its_project_over_and_the_new_operator_then_reports(world):
    views, log = world
    handover = scenario.event(
        "pk.emining.project.ownership.changed", project_id=PROJECT,
        operator_uscc=scenario.FIRMS[XINJIANG], new_operator_uscc=scenario.FIRMS[SHANGHAI],
        new_operator_name={"en": "Shanghai"},
        joint_venture=[{"name": {"en": "S"}, "uscc": scenario.FIRMS[SHANGHAI], "share_pct": "100"}])
    report = _production(scenario.FIRMS[SHANGHAI], period="2026-07")
    results = await views.feed([log.record(log.seal(XINJIANG, Draft(handover, time=AT))),
                                log.record(log.seal(SHANGHAI, Draft(report, time=AT)))])
    assert results == [None, None]
    assert views.doc(PROJECT)["operator_uscc"] == scenario.FIRMS[SHANGHAI]
    assert views.doc(PROJECT)["latest_production"]["period"] == "2026-07"


async def test_an_agency_naming_another_holder_for_a_title_is_a_party_mismatch(world):
    views, log = world
    amended = scenario.event("pk.emining.approval.licence.amended",
                             title_number="BA-EL-2025-0001", holder_uscc=scenario.FIRMS[SHANGHAI])
    reason, detail = await _refused(views, log.record(log.seal(scenario.BA_MMDD,
                                                               Draft(amended, time=AT))))
    assert reason is Reason.PARTY_MISMATCH
    assert scenario.FIRMS[SHANGHAI] in detail


async def test_registering_an_existing_project_again_is_refused(world):
    views, log = world
    again = scenario.event("pk.emining.project.registered", project_id=PROJECT,
                           operator_uscc=scenario.FIRMS[XINJIANG])
    reason, _ = await _refused(views, log.record(log.seal(XINJIANG, Draft(again, time=AT))))
    assert reason is Reason.SUBJECT_EXISTS


async def test_a_firm_cannot_start_a_subject_with_anything_but_its_opening_event(world):
    views, log = world
    record = log.record(log.seal(XINJIANG, Draft(
        _production(scenario.FIRMS[XINJIANG], project="PRJ-BA-CHG-0999"), time=AT)))
    reason, detail = await _refused(views, record)
    assert reason is Reason.OWN_SUBJECT
    assert "not registered" in detail


async def test_an_agency_may_record_a_title_whose_history_predates_the_bus(world):
    views, log = world
    granted = scenario.event("pk.emining.approval.licence.granted", title_number="BA-EL-2019-0007")
    assert await views.feed([log.record(log.seal(scenario.BA_MMDD,
                                                 Draft(granted, time=AT)))]) == [None]
    title = views.doc("BA-EL-2019-0007")
    assert (title["status"], title["expires_on"]) == ("granted", "2029-01-31")
    assert title["received_at"] is None


def _correction(story: int, label: str, **fields: object) -> object:
    target = scenario.story(story)
    return scenario.event("pk.emining.project.corrected", **{
        "project_id": scenario.ids_of(story)["project"],
        "operator_uscc": scenario.FIRMS[target.firm], "corrects_event_id": target.ids[label],
        "corrected_type": "pk.emining.project.production.reported.v1", **fields})


@pytest.mark.parametrize(("change", "why"), [
    ({"corrects_event_id": "evt-does-not-exist"}, "has no event evt-does-not-exist"),
    ({"corrected_type": "pk.emining.project.milestone.reached.v1",
      "replacement": {"note": "late"}}, "not a pk.emining.project.milestone.reached.v1"),
    ({"corrected_type": "pk.emining.project.milestone.reached.v1"}, "has no field ore_milled_t"),
    ({"replacement": {"ore_milled_t": "-5.000"}}, "would be invalid"),
])
async def test_a_correction_that_does_not_fit_its_target_is_refused(world, change, why):
    views, log = world
    correction = _correction(1, "production-1", **change)
    record = log.record(log.seal(SHANGHAI, Draft(correction, time=AT)))
    reason, detail = await _refused(views, record)
    assert reason is Reason.BAD_CORRECTION
    assert why in detail


async def test_only_the_emitter_may_correct_its_event(world):
    views, log = world
    meddling = scenario.event(
        "pk.emining.approval.corrected", approval_ref="BA-EL-2025-0001",
        holder_uscc=scenario.FIRMS[XINJIANG],
        corrects_event_id=scenario.story(0).ids["received"],
        corrected_type="pk.emining.approval.licence.application.received.v1",
        replacement={"district": "Quetta"})
    reason, detail = await _refused(views, log.record(log.seal(XINJIANG, Draft(meddling, time=AT))))
    assert reason is Reason.BAD_CORRECTION
    assert f"only {scenario.BA_MMDD} corrects" in detail


async def test_a_correction_that_voids_a_projects_only_event_removes_the_project():
    views, log = MemoryViews(), Log()
    registration = scenario.story(0).steps[0]
    await views.feed(log.records([registration]))
    voided = scenario.event(
        "pk.emining.project.corrected", project_id=PROJECT, operator_uscc=scenario.FIRMS[XINJIANG],
        corrects_event_id=registration.draft.event_id, reason="did_not_occur",
        corrected_type="pk.emining.project.registered.v1", replacement=None)
    assert await views.feed([log.record(log.seal(XINJIANG, Draft(voided, time=AT)))]) == [None]
    assert PROJECT not in views.views
    assert [e.effective is None for e in views.timeline[PROJECT]] == [True, False]


async def test_an_event_the_views_cannot_apply_is_refused_not_retried_forever(world, monkeypatch):
    views, log = world
    family = FAMILIES[PROJECTS]

    def broken(view, fact):
        raise ValueError("no projection expected this")

    monkeypatch.setitem(FAMILIES, PROJECTS, dataclasses.replace(family, apply=broken))
    report = log.record(log.seal(XINJIANG, Draft(_production(scenario.FIRMS[XINJIANG]), time=AT)))
    reason, detail = await _refused(views, report)
    assert reason is Reason.MALFORMED
    assert "no projection expected this" in detail
    monkeypatch.setitem(FAMILIES, PROJECTS, family)
    later = _production(scenario.FIRMS[XINJIANG], period="2026-08")
    assert await views.feed([log.record(log.seal(XINJIANG, Draft(later, time=AT)))]) == [None]
    assert views.doc(PROJECT)["latest_production"]["period"] == "2026-08"
