"""The law's consequences in the approvals view: service-standard due dates stored by the fold,
days pending, breaches and deemed approvals computed on a day the reader supplies."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from consumers import store_read
from consumers.store_read import Page, list_approvals, statuses
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from consumers.views.standing import standard_due_on, standing, today_in_pakistan
from schemas.common import TitleType
from schemas.standards import TITLE_DECISION_DAYS
from tests.integration.views import scenario
from tests.unit.views.harness import fold_scenario

S = ApprovalStatus


def _title(title_type: TitleType, status: ApprovalStatus = S.RECEIVED, **extra: object
           ) -> ApprovalView:
    return ApprovalView(
        ref=f"BA-{title_type.value}-2025-0009", kind=ApprovalKind.TITLE, holder_uscc="X",
        title_type=title_type, status=status,
        received_at=datetime(2025, 1, 8, 4, tzinfo=UTC),  # 8 Jan 09:00 in Pakistan
        updated_at=datetime(2025, 1, 8, 4, tzinfo=UTC), **extra)


@pytest.mark.parametrize(("title_type", "due"), [
    (TitleType.RECONNAISSANCE_LICENCE, date(2025, 2, 7)),
    (TitleType.EXPLORATION_LICENCE, date(2025, 3, 9)),
    (TitleType.MINING_LEASE, date(2025, 4, 8)),
])
def test_a_licence_application_is_due_after_its_title_types_standard(title_type, due):
    assert (due - date(2025, 1, 8)).days == TITLE_DECISION_DAYS[title_type]
    assert standard_due_on(_title(title_type)) == due


def test_days_spent_deficient_push_the_standard_back_and_pause_it_meanwhile():
    deficient_days = 16
    view = _title(TitleType.EXPLORATION_LICENCE, S.RESUBMITTED,
                  time_in_state={"received": 3600, "deficient": deficient_days * 86400})
    assert standard_due_on(view) == date(2025, 3, 25)  # 9 Mar + 16 days
    assert standard_due_on(_title(TitleType.EXPLORATION_LICENCE, S.DEFICIENT)) is None


def test_a_decided_application_has_no_standard_due():
    assert standard_due_on(_title(TitleType.MINING_LEASE, S.GRANTED)) is None
    assert standard_due_on(_title(TitleType.MINING_LEASE, S.WITHDRAWN)) is None


async def test_the_fold_stores_the_standard_and_then_the_authoritys_stated_date():
    views, log = await fold_scenario(0)
    steps = [s for s in scenario.story(0).steps if s.draft.data.subject == "BA-EL-2025-0001"]
    await views.feed(log.records(steps[:1]))  # received 8 Jan
    assert views.doc("BA-EL-2025-0001")["standard_due_on"] == "2025-03-09"  # EL: 60 days
    await views.feed(log.records(steps[1:2]))  # acknowledged, decision due 8 Apr
    assert views.doc("BA-EL-2025-0001")["standard_due_on"] == "2025-04-08"
    await views.feed(log.records(steps[2:3]))  # deficiency notified: the clock waits
    title = views.doc("BA-EL-2025-0001")
    assert title["standard_due_on"] is None
    for wall_clock_field in ("days_pending", "breached", "effective_status", "as_of"):
        assert wall_clock_field not in title  # the view stays a fold of the log


async def _pending_eia():
    views, log = await fold_scenario(0)
    [filed] = [s for s in scenario.story(1).steps if s.draft.data.subject == "EIA-BA-2025-0002"
               and "filed" in s.draft.data.TYPE]
    await views.feed(log.records([filed]))
    return views.doc("EIA-BA-2025-0002")


async def test_an_undecided_eia_is_due_on_its_deemed_approval_day_and_then_deemed_approved():
    eia = await _pending_eia()
    assert eia["status"] == "filed"
    assert eia["standard_due_on"] == eia["due"]["deemed_approval_on"] == "2025-06-02"
    day_before = standing(eia, date(2025, 6, 1))
    assert day_before["effective_status"] == "filed"
    assert day_before["breached"] is False
    assert eia["received_at"] == "2025-01-11T19:00:00Z"  # filed 12 Jan, a Pakistani date
    assert day_before["days_pending"] == (date(2025, 6, 1) - date(2025, 1, 12)).days
    on_the_day = standing(eia, date(2025, 6, 2))
    assert on_the_day == {"as_of": "2025-06-02", "effective_status": "deemed_approved",
                          "days_pending": None, "breached": False}
    assert eia["status"] == "filed"  # the stored view is unchanged: only the reading differs


def test_a_licence_application_past_its_standard_is_breached_with_days_pending():
    doc = _title(TitleType.EXPLORATION_LICENCE, standard_due_on=date(2025, 3, 9)).model_dump(
        mode="json")
    assert standing(doc, date(2025, 3, 9)) == {
        "as_of": "2025-03-09", "effective_status": "received", "days_pending": 60,
        "breached": False}
    assert standing(doc, date(2025, 3, 10))["breached"] is True
    granted = {**doc, "status": "granted", "standard_due_on": None}
    assert standing(granted, date(2025, 5, 1))["days_pending"] is None
    assert standing(granted, date(2025, 5, 1))["breached"] is False


def test_today_is_the_day_in_pakistan():
    assert today_in_pakistan(datetime(2025, 6, 1, 19, 30, tzinfo=UTC)) == date(2025, 6, 2)


def test_a_mistyped_status_is_an_error_listing_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown status 'pendng'.*deemed_approved.*pending"):
        statuses(["pendng"], store_read.APPROVAL_STATUSES)
    assert "filed" in statuses(["pending"], store_read.APPROVAL_STATUSES)
    with pytest.raises(ValueError, match="valid: arrived, "):
        statuses(["held,pending"], store_read.SHIPMENT_STATUSES)  # no `pending` for shipments
    assert statuses(["held, cleared"], store_read.SHIPMENT_STATUSES) == ["held", "cleared"]


async def test_listing_filters_on_the_status_the_law_gives_and_on_breaches(monkeypatch):
    eia = await _pending_eia()
    late = _title(TitleType.EXPLORATION_LICENCE, standard_due_on=date(2025, 3, 9)).model_dump(
        mode="json")
    asked: list[dict] = []

    async def rows(_store, family, filters, **_):
        asked.append(filters)
        return Page([eia, late], "next")

    monkeypatch.setattr(store_read, "list_views", rows)
    today = date(2025, 6, 2)
    deemed = await list_approvals(None, {}, today=today, status=["deemed_approved"])
    assert [i["ref"] for i in deemed.items] == ["EIA-BA-2025-0002"]
    assert asked[-1]["status"] == ["deemed_approved", "filed"]  # stored as filed
    assert deemed.next_cursor == "next"
    pending = await list_approvals(None, {}, today=today, status=["pending"])
    assert [i["ref"] for i in pending.items] == [late["ref"]]  # the EIA is decided by law
    breached = await list_approvals(None, {}, today=today, breached=True)
    assert [(i["ref"], i["days_pending"]) for i in breached.items] == [(late["ref"], 145)]
    assert "received" in asked[-1]["status"]
    assert "granted" not in asked[-1]["status"]


def test_an_export_lpco_in_progress_is_due_after_its_types_standard():
    lpco = ApprovalView(
        ref="LPCO-2026-000009", kind=ApprovalKind.EXPORT, holder_uscc="X", status=S.SUBMITTED,
        lpco_type="export_noc", received_at=datetime(2026, 4, 1, 20, tzinfo=UTC),  # 2 Apr PKT
        updated_at=datetime(2026, 4, 1, 20, tzinfo=UTC))
    assert standard_due_on(lpco) == date(2026, 4, 9)  # + 7 days (schemas.standards)
    assert standard_due_on(lpco.model_copy(update={"status": S.APPROVED})) is None


def test_a_day_before_the_file_was_received_shows_no_clock():
    """``--as-of`` before the receipt: the file did not exist then, no negative days pending."""
    doc = _title(TitleType.EXPLORATION_LICENCE, standard_due_on=date(2025, 3, 9)).model_dump(
        mode="json")
    assert standing(doc, date(2025, 1, 7))["days_pending"] is None
    assert standing(doc, date(2025, 1, 7))["breached"] is False
    assert standing(doc, date(2025, 1, 18))["days_pending"] == 10
