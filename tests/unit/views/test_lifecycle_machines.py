"""The shipment and project lifecycles, through the real verification stage and fold: each allowed
step moves the view to the status the machine names, each impossible one is refused naming
from → to and leaves the view as it was; a correction that would make history impossible too."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from consumers.verification import Reason
from consumers.views.models import ShipmentStatus
from producers.publisher import Draft
from schemas.events.projects import ProjectStage, stage_change_allowed
from schemas.lifecycles import MACHINES, PROJECT, SHIPMENT, STAGES, refusal
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews

AT = datetime(2026, 4, 1, 9, tzinfo=UTC)
FIRM = "urn:emining:cn:ent:xinjiang-example"
USCC = scenario.FIRMS[FIRM]
SHIPMENT_ID = "SHP-2026-000777"
PROJECT_ID = "PRJ-BA-CHG-0077"
TITLE = "BA-EL-2026-0778"


class World:
    def __init__(self) -> None:
        self.views, self.log, self.at = MemoryViews(), Log(), AT
        self.ids: dict[str, str] = {}

    async def feed(self, org: str, data: object, label: str = "") -> object:
        self.at += timedelta(hours=6)
        env = self.log.seal(org, Draft(data, time=self.at))
        if label:
            self.ids[label] = env.id
        [outcome] = await self.views.feed([self.log.record(env)])
        return outcome

    async def applied(self, org: str, data: object, label: str = "") -> None:
        outcome = await self.feed(org, data, label)
        assert outcome is None, outcome

    async def refused(self, org: str, data: object) -> str:
        before = copy.deepcopy(self.views.views)
        outcome = await self.feed(org, data)
        assert outcome is not None, "the step should have been refused"
        assert outcome.reason is Reason.INVALID_TRANSITION, outcome
        assert self.views.views == before, "a refused step changed the view"
        return str(outcome.detail)

    def status(self, subject: str, field: str = "status") -> str:
        return str(self.views.doc(subject)[field])


@pytest.fixture
def world() -> World:
    return World()


# -- shipments ------------------------------------------------------------------------------

def ship(name: str, **fields: object) -> object:
    return scenario.event(f"pk.emining.shipment.{name}", shipment_id=SHIPMENT_ID,
                          exporter_uscc=USCC, **fields)


JOURNEY = [  # (who, event, the status after it)
    (FIRM, "planned", "planned"),
    (FIRM, "lot.assayed", "planned"),
    (FIRM, "lot.loaded", "loaded"),
    (FIRM, "departed", "departed"),
    (FIRM, "customs.declaration.filed", "declared"),
    (scenario.CUSTOMS, "customs.held", "held"),
]


async def _to(world: World, last: str) -> None:
    for org, name, status in JOURNEY:
        await world.applied(org, ship(name))
        assert world.status(SHIPMENT_ID) == status, name
        if name == last:
            return


async def test_a_held_shipment_is_redeclared_cleared_shipped_delivered_and_invoiced(world):
    await _to(world, "customs.held")
    for org, name, status in [
        (scenario.CUSTOMS, "customs.held", "held"),  # a second reason
        (FIRM, "customs.declaration.filed", "declared"),  # a fresh declaration
        (scenario.CUSTOMS, "customs.cleared", "cleared"),
        (FIRM, "vessel.loaded", "at_sea"),
        (FIRM, "lot.assayed", "at_sea"),
        (FIRM, "arrived", "arrived"),
        (FIRM, "lot.assayed", "arrived"),  # the umpire assay at destination
        (FIRM, "final.invoiced", "invoiced"),
    ]:
        await world.applied(org, ship(name))
        assert world.status(SHIPMENT_ID) == status, name
    doc = world.views.doc(SHIPMENT_ID)
    assert (len(doc["holds"]), doc["on_hold"]) == (2, False)


async def test_a_shipment_cannot_depart_or_leave_pakistan_while_held(world):
    await _to(world, "customs.held")
    assert await world.refused(FIRM, ship("departed")) == (
        "shipment.departed: held → departed is not a step of a shipment "
        "(departed follows: loaded)")
    assert await world.refused(FIRM, ship("vessel.loaded")) == (
        "shipment.vessel.loaded: held → at_sea is not a step of a shipment "
        "(at_sea follows: cleared)")
    assert await world.refused(FIRM, ship("border.crossed")) == (
        "shipment.border.crossed: held → crossed_border is not a step of a shipment "
        "(crossed_border follows: cleared)")
    assert world.status(SHIPMENT_ID) == "held"
    assert world.views.doc(SHIPMENT_ID)["on_hold"] is True


async def test_nothing_but_the_invoice_follows_arrival_and_nothing_follows_it(world):
    await _to(world, "customs.declaration.filed")
    await world.applied(scenario.CUSTOMS, ship("customs.cleared"))
    await world.applied(FIRM, ship("vessel.loaded"))
    await world.applied(FIRM, ship("arrived"))
    assert await world.refused(scenario.CUSTOMS, ship("customs.held")) == (
        "shipment.customs.held: arrived → held is not a step of a shipment "
        "(held follows: (new), declared, held)")
    assert (await world.refused(FIRM, ship("lot.loaded"))).startswith(
        "shipment.lot.loaded: arrived → loaded is not a step of a shipment")
    await world.applied(FIRM, ship("final.invoiced"))
    assert (await world.refused(FIRM, ship("lot.assayed"))).startswith(
        "shipment.lot.assayed: invoiced → (no change) is not a step of a shipment")
    assert (await world.refused(FIRM, ship("final.invoiced"))).startswith(
        "shipment.final.invoiced: invoiced → invoiced is not a step")
    assert world.status(SHIPMENT_ID) == "invoiced"


async def test_a_shipment_starts_with_its_plan_and_departs_only_once_loaded(world):
    # (a firm's first event about an unknown shipment is refused earlier: own_subject)
    assert refusal("pk.emining.shipment.lot.loaded.v1", None) == (
        "shipment.lot.loaded: (new) → loaded is not a step of a shipment "
        "(loaded follows: planned, loaded)")
    await world.applied(FIRM, ship("planned"))
    assert (await world.refused(FIRM, ship("departed"))).startswith(
        "shipment.departed: planned → departed")
    assert (await world.refused(FIRM, ship("customs.declaration.filed"))).startswith(
        "shipment.customs.declaration.filed: planned → declared")
    await world.applied(FIRM, ship("lot.loaded"))
    await world.applied(FIRM, ship("lot.loaded"))  # a second lot
    assert world.views.doc(SHIPMENT_ID)["loaded_units"] == 4
    assert world.status(SHIPMENT_ID) == "loaded"


def test_the_shipment_machine_speaks_the_views_statuses():
    statuses = {s.to for s in SHIPMENT.steps.values()} | {
        a for s in SHIPMENT.steps.values() for a in s.after}
    assert statuses - {None} == {s.value for s in ShipmentStatus}


# -- projects --------------------------------------------------------------------------------

def project(name: str, **fields: object) -> object:
    return scenario.event(f"pk.emining.project.{name}", project_id=PROJECT_ID,
                          operator_uscc=USCC, **fields)


def registered(stage: str = "feasibility") -> object:
    return project("registered", stage=stage, related_titles=[],
                   joint_venture=[{"name": {"en": "Operator"}, "uscc": USCC, "share_pct": "100"}])


def staged(from_stage: str, to_stage: str) -> object:
    return project("stage.changed", from_stage=from_stage, to_stage=to_stage)


async def test_a_project_moves_forward_and_restarts_only_out_of_care_and_maintenance(world):
    await world.applied(FIRM, registered("feasibility"))
    assert world.status(PROJECT_ID, "stage") == "feasibility"
    for step, stage in [
        (staged("feasibility", "construction"), "construction"),
        (project("production.reported"), "construction"),  # commissioning ore
        (staged("construction", "production"), "production"),
        (staged("production", "care_and_maintenance"), "care_and_maintenance"),
        (project("production.reported", period="2028-04"), "care_and_maintenance"),  # late
        (staged("care_and_maintenance", "production"), "production"),
        (staged("production", "closure"), "closure"),
        (project("workforce.reported"), "closure"),
        (project("hse.incident.reported"), "closure"),
    ]:
        await world.applied(FIRM, step)
        assert world.status(PROJECT_ID, "stage") == stage, step


async def test_a_project_stage_cannot_go_back_nor_leave_from_where_it_is_not(world):
    await world.applied(FIRM, registered("production"))
    # valid on its own (feasibility → construction) but not for a project in production
    assert await world.refused(FIRM, staged("feasibility", "construction")) == (
        "project.stage.changed: production → construction is not a step of a project "
        "(construction follows: exploration, feasibility, care_and_maintenance)")
    # forward from where the project is, but the event says it leaves another stage
    assert await world.refused(FIRM, staged("construction", "closure")) == (
        "project.stage.changed: production → closure is not a step of a project "
        "(the event says it leaves construction, but it is at production)")
    assert world.status(PROJECT_ID, "stage") == "production"
    await world.applied(FIRM, staged("production", "closure"))
    assert (await world.refused(FIRM, project("milestone.reached"))).startswith(
        "project.milestone.reached: closure → (no change) is not a step of a project")
    assert world.status(PROJECT_ID, "stage") == "closure"


async def test_no_production_is_reported_before_construction(world):
    await world.applied(FIRM, registered("exploration"))
    assert await world.refused(FIRM, project("production.reported")) == (
        "project.production.reported: exploration → (no change) is not a step of a project "
        "(project.production.reported follows: construction, production, "
        "care_and_maintenance, closure)")
    await world.applied(FIRM, project("workforce.reported"))
    assert world.views.doc(PROJECT_ID)["latest_production"] is None


def test_the_project_machine_and_the_event_schema_agree_on_every_stage_move():
    assert tuple(s.value for s in ProjectStage) == STAGES
    step = PROJECT.steps["project.stage.changed"]
    for a in ProjectStage:
        for b in ProjectStage:
            allowed = a.value in step.follows(b.value)
            assert allowed == stage_change_allowed(a, b), (a, b)
    assert refusal("pk.emining.project.stage.changed.v1", "closure", "production",
                   "closure") is not None


# -- corrections -----------------------------------------------------------------------------

async def test_a_correction_that_would_make_the_history_impossible_is_refused(world):
    """The stage change it corrects would lead to closure, after which the next change (from
    construction) could not have happened: refused, the view and timeline as they were."""
    await world.applied(FIRM, registered("feasibility"))
    await world.applied(FIRM, staged("feasibility", "construction"), "first")
    await world.applied(FIRM, staged("construction", "production"))
    timeline = copy.deepcopy(world.views.timeline[PROJECT_ID])
    detail = await world.refused(FIRM, project(
        "corrected", corrects_event_id=world.ids["first"],
        corrected_type="pk.emining.project.stage.changed.v1", reason="incorrect_data",
        replacement={"to_stage": "closure"}))
    assert detail == (
        "the corrected history would be impossible: project.stage.changed: closure → "
        "production is not a step of a project (production follows: exploration, feasibility, "
        "construction, care_and_maintenance)")
    assert world.views.timeline[PROJECT_ID] == timeline
    assert world.status(PROJECT_ID, "stage") == "production"


async def test_a_grant_corrected_as_not_having_occurred_cannot_leave_a_suspension_behind(world):
    def title(name: str) -> object:
        return scenario.event(f"pk.emining.approval.licence.{name}", title_number=TITLE,
                              holder_uscc=USCC)

    await world.applied(scenario.BA_MMDD, scenario.event(
        "pk.emining.approval.licence.application.received", title_number=TITLE,
        holder_uscc=USCC, licensing_authority=scenario.BA_MMDD))
    await world.applied(scenario.BA_MMDD, title("granted"), "grant")
    await world.applied(scenario.BA_MMDD, title("suspended"))
    detail = await world.refused(scenario.BA_MMDD, scenario.event(
        "pk.emining.approval.corrected", approval_ref=TITLE, holder_uscc=USCC,
        corrects_event_id=world.ids["grant"],
        corrected_type="pk.emining.approval.licence.granted.v1", reason="did_not_occur",
        replacement=None))
    assert detail == (
        "the corrected history would be impossible: approval.licence.suspended: received → "
        "suspended is not a step of a mineral title (suspended follows: granted, show_cause)")
    assert world.status(TITLE) == "suspended"


def test_every_event_type_of_a_subject_has_a_place_in_a_lifecycle():
    from schemas.events.registry import BY_TOPIC  # noqa: PLC0415
    from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS  # noqa: PLC0415

    declared = {name for m in MACHINES.values() for name in m.steps}
    types = {c.TYPE.removeprefix("pk.emining.") for t in (APPROVALS, SHIPMENTS, PROJECTS)
             for c in BY_TOPIC[t]}
    assert types - declared == {"approval.corrected", "shipment.corrected", "project.corrected"}
    assert declared <= types
