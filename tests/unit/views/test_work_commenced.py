"""Work commenced under a title: the commencement due closes and its alert stays silent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.alerts.config import AlertConfig
from consumers.alerts.deadlines import schedule
from consumers.verification import Reason
from consumers.views.models import ApprovalView
from producers.publisher import Draft
from schemas.alerts import AlertRule
from schemas.authority import decide
from tests.integration.views import scenario
from tests.unit.views.harness import Log, MemoryViews

AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
TITLE = "BA-EL-2026-0777"
FIRM = "urn:emining:cn:ent:xinjiang-example"
OTHER = "urn:emining:cn:ent:shanghai-example"


def _event(type_name: str, **fields: object) -> object:
    return scenario.event(f"pk.emining.approval.licence.{type_name}", title_number=TITLE,
                          holder_uscc=scenario.FIRMS[FIRM], **fields)


async def _feed(views: MemoryViews, log: Log, org: str, data: object) -> object:
    [outcome] = await views.feed([log.record(log.seal(org, Draft(data, time=AT)))])
    return outcome


GRANT = {"granted_on": "2026-02-01", "term_years": 3, "expires_on": "2029-01-31"}


@pytest.fixture
def world() -> tuple[MemoryViews, Log]:
    return MemoryViews(), Log()


@pytest.mark.parametrize("org", [FIRM, scenario.BA_MMDD])
async def test_commencement_closes_the_due_and_is_kept(world, org):
    views, log = world
    assert await _feed(views, log, scenario.BA_MMDD, _event("granted", **GRANT)) is None
    assert views.doc(TITLE)["due"] == {"work_commencement_due": "2026-08-01",
                                       "expires_on": "2029-01-31"}
    assert await _feed(views, log, org, _event("work.commenced")) is None
    title = views.doc(TITLE)
    assert title["work_commenced_on"] == "2026-06-15"
    assert title["status"] == "granted"
    assert title["due"] == {"expires_on": "2029-01-31"}
    later = _event("work.commenced", commenced_on="2026-07-01")
    assert await _feed(views, log, org, later) is None
    assert views.doc(TITLE)["work_commenced_on"] == "2026-06-15"  # the first report stands
    [entry] = [e for e in views.timeline[TITLE] if "commenced" in e.type][:1]
    assert entry.summary == "licence work commenced (on 2026-06-15)"
    view = views.views[TITLE]
    assert isinstance(view, ApprovalView)
    rules = {d.rule for d in schedule(view, AlertConfig())}
    assert AlertRule.WORK_NOT_COMMENCED not in rules
    assert AlertRule.LICENCE_EXPIRING in rules


async def test_work_commenced_before_a_grant_is_refused(world):
    views, log = world
    received = _event("application.received", licensing_authority=scenario.BA_MMDD)
    assert await _feed(views, log, scenario.BA_MMDD, received) is None
    outcome = await _feed(views, log, FIRM, _event("work.commenced"))
    assert outcome is not None
    assert outcome.reason is Reason.INVALID_TRANSITION
    assert outcome.detail.startswith("approval.licence.work.commenced: received → (no change) "
                                     "is not a step of a mineral title")
    assert views.doc(TITLE)["work_commenced_on"] is None


def test_only_the_holder_or_the_licensing_authority_may_report_it():
    registry = scenario.registry()
    data = _event("work.commenced")
    assert decide(registry, FIRM, data, AT).allowed
    assert decide(registry, scenario.BA_MMDD, data, AT).allowed
    refused = decide(registry, OTHER, data, AT)
    assert not refused.allowed
    assert "own subjects only" in refused.reason
    assert not decide(registry, scenario.CUSTOMS, data, AT).allowed

