"""Only possible steps become the state: a validly signed but impossible decision is refused."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from consumers.verification import Reason
from producers.publisher import Draft
from schemas.events.approvals_applications import LicenceGranted
from schemas.lifecycles import MACHINES, refusal, short_type
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews

AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
TITLE = "BA-EL-2026-0777"
FIRM = "urn:emining:cn:ent:xinjiang-example"


def _event(type_name: str, **fields: object) -> object:
    return scenario.event(f"pk.emining.approval.licence.{type_name}", title_number=TITLE,
                          holder_uscc=scenario.FIRMS[FIRM], **fields)


async def _feed(views: MemoryViews, log: Log, org: str, data: object) -> object:
    [outcome] = await views.feed([log.record(log.seal(org, Draft(data, time=AT)))])
    return outcome


async def _applied(views: MemoryViews, log: Log, *steps: tuple[str, str, dict]) -> None:
    for org, type_name, fields in steps:
        assert await _feed(views, log, org, _event(type_name, **fields)) is None, type_name


async def _refused(views: MemoryViews, log: Log, org: str, data: object) -> str:
    before = copy.deepcopy(views.views)
    outcome = await _feed(views, log, org, data)
    assert outcome is not None, "the step should have been refused"
    assert outcome.reason is Reason.INVALID_TRANSITION
    assert views.views == before, "a refused step changed the view"
    return outcome.detail


APPLICATION = (scenario.BA_MMDD, "application.received",
               {"licensing_authority": scenario.BA_MMDD})


@pytest.fixture
def world() -> tuple[MemoryViews, Log]:
    return MemoryViews(), Log()


async def test_a_grant_after_the_applicant_withdrew_is_refused(world):
    views, log = world
    await _applied(views, log, APPLICATION, (FIRM, "application.withdrawn", {}))
    detail = await _refused(views, log, scenario.BA_MMDD, _event("granted"))
    assert detail == ("approval.licence.granted: withdrawn → granted is not a step of a mineral "
                      "title (granted follows: (new), received, acknowledged, resubmitted)")
    assert views.doc(TITLE)["status"] == "withdrawn"


async def test_a_grant_after_a_refusal_is_refused(world):
    views, log = world
    await _applied(views, log, APPLICATION, (scenario.BA_MMDD, "refused", {}))
    detail = await _refused(views, log, scenario.BA_MMDD, _event("granted"))
    assert detail.startswith("approval.licence.granted: refused → granted is not a step")


async def test_a_renewal_of_a_title_never_granted_is_refused(world):
    views, log = world
    detail = await _refused(views, log, scenario.BA_MMDD, _event("renewed"))
    assert detail == ("approval.licence.renewed: (new) → granted is not a step of a mineral "
                      "title (granted follows: renewal_applied)")
    await _applied(views, log, APPLICATION)
    detail = await _refused(views, log, scenario.BA_MMDD, _event("renewed"))
    assert detail.startswith("approval.licence.renewed: received → granted is not a step")
    assert views.doc(TITLE)["status"] == "received"


async def test_a_full_life_applies_step_by_step(world):
    views, log = world
    await _applied(views, log, APPLICATION, (scenario.BA_MMDD, "granted", {}),
                   (scenario.BA_MMDD, "suspended", {}), (scenario.BA_MMDD, "restored", {}))
    assert views.doc(TITLE)["status"] == "granted"


def test_every_approval_event_type_has_a_place_in_a_lifecycle():
    from schemas.events.registry import BY_TOPIC  # noqa: PLC0415
    from schemas.topics import APPROVALS  # noqa: PLC0415

    declared = {name for m in MACHINES.values() for name in m.steps}
    types = {short_type(c.TYPE) for c in BY_TOPIC[APPROVALS]} - {"approval.corrected"}
    assert types == {n for n in declared if n.startswith("approval.")}
    assert refusal(LicenceGranted.ce_type(), "deficient") is not None
    assert refusal(LicenceGranted.ce_type(), "resubmitted") is None
    assert refusal("pk.emining.approval.export.decided.v1", "approved", "approved") is not None
    assert refusal("pk.emining.approval.export.decided.v1", "approved", "cancelled") is None
    assert refusal("pk.emining.approval.export.decided.v1", "rejected", "approved") is not None
    assert refusal("pk.emining.approval.export.decided.v1", "amended", "submitted") == (
        "approval.export.decided: amended → submitted is not a step of an export approval "
        "(submitted follows: (new), submitted, documents_called, inspection_called)")
    assert refusal("pk.emining.approval.environmental.decided.v1", "approved", "rejected") == (
        "approval.environmental.decided: approved → rejected is not a step of an environmental "
        "approval (rejected follows: filed)")


def test_the_committed_lifecycle_tables_are_generated_from_the_machines():
    from pathlib import Path  # noqa: PLC0415

    from schemas.lifecycles_doc import markdown  # noqa: PLC0415

    page = Path(__file__).parents[3] / "docs" / "event-types.md"
    assert page.read_text(encoding="utf-8").endswith("\n" + markdown())
    assert "| `approval.licence.granted` |" in markdown()
