"""The scenario generator: one seed gives one year, and that year is legal, complete and checked."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

import pytest

from consumers.audit.verify import verify_records
from infra.demo import scenario_world as w
from infra.demo.scenario import MAX_SCALE, Scenario, Step, Technique, generate
from infra.demo.scenario_core import HTTP_ORGS, IMPORT_TYPES, PATHS
from infra.demo.scenario_world import PORT_AUTHORITY
from producers.bulk import build
from producers.gateway_models import UnsignedEvent
from schemas.authority import decide
from schemas.catalogue import model_for
from schemas.events import (
    BorderCrossed,
    CustomsDeclarationFiled,
    CustomsHeld,
    EnvironmentalApprovalDecided,
    EnvironmentalApprovalFiled,
    FinalInvoiced,
    LicenceCancelled,
    LicenceConverted,
    LicenceGranted,
    LicenceRestored,
    LotAssayed,
    ProjectRegistered,
    ShipmentCorrected,
    VesselLoaded,
)
from schemas.events.approvals_licences import RestoredFrom
from schemas.events.approvals_other import LpcoStatus, add_months
from schemas.events.shipments import SEAPORTS
from tests.unit.demo import lifecycle, memlog
from tests.unit.views.harness import MemoryViews


@pytest.fixture(scope="module")
def year() -> Scenario:
    return generate()


@pytest.fixture(scope="module")
def small() -> Scenario:
    return generate(seed=7, scale=0.2)


@pytest.fixture(scope="module")
def log(year: Scenario) -> memlog.MemoryLog:
    return memlog.lay_out(year)


@pytest.fixture(scope="module")
def folded(log: memlog.MemoryLog) -> MemoryViews:
    return memlog.fold(log)


def subjects(scenario: Scenario) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = defaultdict(list)
    for step in scenario.steps:
        out[step.subject].append(step)
    return out


def of_type(scenario: Scenario, cls: type) -> list[Step]:
    return [s for s in scenario.steps if isinstance(s.data, cls)]


def test_the_same_seed_gives_the_same_year_byte_for_byte():
    assert generate(seed=5, scale=0.3).dumps() == generate(seed=5, scale=0.3).dumps()


def test_another_seed_gives_another_year():
    one, other = generate(seed=5, scale=0.3), generate(seed=6, scale=0.3)
    assert one.dumps() != other.dumps()
    assert not {s.event_id for s in one.steps} & {s.event_id for s in other.steps}
    assert [s.data for s in one.steps[:40]] != [s.data for s in other.steps[:40]]


def test_steps_are_strictly_time_ordered_within_the_year_with_unique_ids(year):
    times = [s.time for s in year.steps]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert year.end - timedelta(days=365) <= times[0]
    assert times[-1] < year.end
    assert len({s.event_id for s in year.steps}) == len(year.steps)


def test_every_step_round_trips_through_its_models_json(year):
    for step in year.steps:
        model = model_for(step.type)
        assert step.type == model.ce_type()
        assert model.model_validate(json.loads(json.dumps(step.data_json()))) == step.data


def test_import_rows_and_gateway_bodies_are_accepted_as_the_real_paths_read_them(year):
    for step in year.steps:
        row = json.loads(json.dumps(step.import_row()))
        draft = build(row["type"], row["data"], line=1, subject=row["subject"],
                      event_id=row["id"], time=row["time"]).draft
        assert (draft.data, draft.event_id, draft.time) == (step.data, step.event_id, step.time)
        body = UnsignedEvent.model_validate(step.http_body())
        assert (body.id, body.time) == (step.event_id, step.time)


@pytest.mark.parametrize(("seed", "scale"), [(2026, 1.0), (7, 0.2), (31, 2.0)])
def test_every_step_lies_within_its_emitters_authority_at_its_time(seed, scale):
    registry = memlog.registry()
    refused = [(s.org, s.type, decide(registry, s.org, s.data, s.time).reason)
               for s in generate(seed=seed, scale=scale).steps
               if not decide(registry, s.org, s.data, s.time).allowed]
    assert refused == []


def test_the_scenarios_firms_and_agencies_are_the_demo_registrys(year):
    seed = {org.id: org for org in memlog.SEED.organisations}
    firms = {getattr(w, name) for name in dir(w) if isinstance(getattr(w, name), w.Firm)}
    assert {firm.org: firm.uscc for firm in firms} == {
        org.id: org.uscc for org in seed.values() if org.uscc and org.authorities}
    assert set(year.organisations()) <= set(seed)
    assert set(year.organisations("http")) == HTTP_ORGS


def test_each_publishing_path_carries_a_meaningful_share(year):
    counts = year.counts_by_path()
    assert set(counts) == set(PATHS)
    assert all(count >= 0.15 * len(year.steps) for count in counts.values()), counts
    assert {s.org for s in year.steps if s.path == "http"} <= HTTP_ORGS
    assert {s.data.TYPE for s in year.steps if s.path == "import"} <= IMPORT_TYPES


def test_the_year_has_realistic_counts(year):
    types = year.counts_by_type()
    provinces = {s.data.province for s in of_type(year, ProjectRegistered)}
    assert types["project.registered"] == 13  # 12 mines and the Hub ferrochrome smelter
    assert 8 <= types["project.offtake.delivered"] <= 12  # a month's ore to the smelter
    assert {p.value for p in provinces} == {"PK-BA", "PK-SD", "PK-KP", "PK-PB", "PK-GB"}
    assert 600 <= len(year.steps) <= 1200
    assert 25 <= types["shipment.planned"] <= 60
    assert types["project.workforce.reported"] == 12 * 12  # the mines' (the smelter's: none)
    assert 40 <= types["project.production.reported"] <= 80
    assert types["approval.royalty.paid"] >= 10
    assert types["approval.licence.granted"] >= 8
    for kind in ("refused", "renewed", "converted", "amended", "application.withdrawn",
                 "deficiency.notified", "application.resubmitted", "showcause.issued",
                 "suspended", "cancelled", "restored"):
        assert types[f"approval.licence.{kind}"] >= 1, kind


@pytest.mark.parametrize("which", ["year", "small"])
def test_the_year_has_every_story_element(which, request):
    scenario: Scenario = request.getfixturevalue(which)
    expected, by_subject = scenario.expected, subjects(scenario)
    appeal = by_subject[expected.restored_on_appeal]
    cancelled = next(i for i, s in enumerate(appeal) if isinstance(s.data, LicenceCancelled))
    restored = next(s.data for s in appeal[cancelled:] if isinstance(s.data, LicenceRestored))
    assert restored.restored_from is RestoredFrom.CANCELLED
    assert restored.appeal_reference
    deemed = expected.deemed_approved
    filing = by_subject[deemed.file_number]
    assert [type(s.data) for s in filing] == [EnvironmentalApprovalFiled]
    assert deemed.deemed_on == add_months(filing[0].data.complete_on, 4)
    assert deemed.deemed_on < scenario.end.date()
    assert isinstance(by_subject[expected.held_shipment_id][-1].data, CustomsHeld)
    correction = scenario.step(expected.correction_event_id).data
    assert isinstance(correction, ShipmentCorrected)
    assert correction.corrects_event_id == expected.corrected_event_id
    assert isinstance(scenario.step(expected.corrected_event_id).data, LotAssayed)
    crossings = of_type(scenario, BorderCrossed)
    assert crossings
    assert all(s.data.within_protocol_season for s in crossings)
    loadings = of_type(scenario, VesselLoaded)
    assert {s.data.port for s in loadings} == SEAPORTS
    assert all(s.org == PORT_AUTHORITY[s.data.port] for s in loadings)
    assert of_type(scenario, LicenceConverted)


def test_the_lifecycle_check_catches_a_grant_before_its_application(year):
    title = next(s.subject for s in year.steps if isinstance(s.data, LicenceGranted))
    steps = [s for s in year.steps if s.subject == title]
    swapped = (replace(steps[1], time=steps[0].time), replace(steps[0], time=steps[1].time))
    broken = replace(year, steps=swapped)
    assert lifecycle.problems(broken, exempt=set()) == [
        f"{title}: does not open with its application",
        f"{title}: LicenceGranted before any of ['LicenceApplicationReceived']",
    ]


def test_one_shipment_is_declared_on_an_export_approval_psw_rejected(year):
    shipment = year.expected.no_approval_shipment_id
    cited = next(s.data for s in subjects(year)[shipment]
                 if isinstance(s.data, CustomsDeclarationFiled)).export_approvals
    decisions = [s.data for lpco in cited for s in subjects(year)[lpco]]
    assert decisions[-1].status is LpcoStatus.REJECTED


@pytest.mark.parametrize("which", ["year", "small"])
def test_every_subject_follows_a_legal_lifecycle(which, request):
    scenario: Scenario = request.getfixturevalue(which)
    problems = lifecycle.problems(scenario, exempt={scenario.expected.no_approval_shipment_id})
    assert problems == []


def test_the_audit_names_exactly_the_attacks(year, log):
    report = verify_records(log.records, [memlog.OPERATOR.public_key])
    found = {(f.kind, f.event_id): f.reason for f in report.findings}
    wanted = {(a.expected.audit_kind, a.event_id): a for a in year.attacks}
    assert set(found) == set(wanted)
    for key, attack in wanted.items():
        assert attack.expected.audit_reason in found[key], attack.name
    assert {f.event_id for f in report.violations} == {
        a.event_id for a in year.attacks if a.expected.violation}
    assert [f.kind for f in report.warnings] == [
        a.expected.audit_kind for a in year.attacks if not a.expected.violation]


def test_a_live_consumer_accepts_every_step_and_rejects_each_attack_for_its_reason(year, folded):
    reasons = {rejection.event_id: rejection.reason for _, rejection in folded.rejected}
    assert len(folded.rejected) == len(year.attacks)
    assert reasons == {a.event_id: a.expected.dlq_reason for a in year.attacks}


def test_the_expected_outcome_is_what_the_views_make_of_the_year(year, folded):
    views = folded.views
    expected = year.expected
    assert {k: views[k].stage for k in expected.projects} == expected.projects
    for table in (expected.titles, expected.environmental, expected.exports):
        assert {k: views[k].status for k in table} == table
    assert {k: views[k].status for k in expected.shipments} == expected.shipments
    for pending in expected.pending:
        assert views[pending.ref].due[pending.deadline] == pending.due_on, pending.ref
    assert views[expected.held_shipment_id].on_hold


def test_the_expected_outcome_agrees_with_the_steps(year):
    expected, by_subject = year.expected, subjects(year)
    assert set(expected.projects) == {s.subject for s in of_type(year, ProjectRegistered)}
    assert set(expected.shipments) == {k for k in by_subject if k.startswith("SHP-")}
    assert sorted(expected.crossed_khunjerab) == sorted(
        s.subject for s in of_type(year, BorderCrossed))
    for lpco, status in expected.exports.items():
        assert by_subject[lpco][-1].data.status.value == status.value
    assert all(not any(isinstance(s.data, EnvironmentalApprovalDecided)
                       for s in by_subject[p.ref]) for p in expected.pending
               if p.ref.startswith(("IEE", "EIA")))
    assert expected.held() == (expected.held_shipment_id,)
    assert expected.in_transit()
    for shipment in expected.in_transit():
        assert not isinstance(by_subject[shipment][-1].data, CustomsHeld | FinalInvoiced)


def test_each_attack_names_its_target_and_how_it_is_made(year):
    techniques = {a.technique for a in year.attacks}
    assert techniques == set(Technique)
    own_key = [a.source for a in year.attacks if a.technique is Technique.OUT_OF_AUTHORITY]
    assert len(own_key) == len(set(own_key))
    replay = next(a for a in year.attacks if a.technique is Technique.REPLAY)
    assert year.step(replay.replays).org == replay.org
    assert all(a.time < year.end for a in year.attacks)
    assert all(a.to_json()["expected"]["audit_reason"] for a in year.attacks)


def test_batches_cover_every_step_in_order_without_two_speakers_for_a_subject(year):
    batches = year.batches()
    assert [s for b in batches for s in b.steps] == list(year.steps)
    for batch in batches:
        assert {s.path for s in batch.steps} == {batch.path}
        speakers: dict[str, set[str]] = defaultdict(set)
        for step in batch.steps:
            speakers[step.subject].add(step.org)
        assert all(len(orgs) == 1 for orgs in speakers.values())
    assert len([b for b in batches if b.path == "import"]) < 60


def test_scale_grows_and_shrinks_the_year(year, small):
    bigger = generate(scale=2.0)
    assert len(small.steps) < 0.6 * len(year.steps)
    assert 1.6 * len(year.steps) < len(bigger.steps) < 2.6 * len(year.steps)
    assert len(bigger.expected.projects) > len(year.expected.projects)


@pytest.mark.parametrize("scale", [0, -1, MAX_SCALE + 1])
def test_a_scale_out_of_range_is_refused(scale):
    with pytest.raises(ValueError, match="scale"):
        generate(scale=scale)
