"""The views after a realistic history: statuses, dates, dues, holds and corrections, by value."""

from __future__ import annotations

import json

import pytest

from tests.integration.views import scenario
from tests.unit.views.harness import fold_scenario

STORIES = 24


@pytest.fixture(scope="module")
async def folded():
    views, _ = await fold_scenario(STORIES)
    return views


def test_a_clean_history_rejects_nothing(folded):
    assert folded.rejected == []
    assert len(folded.views) == STORIES * 5  # project, title, EIA, LPCO and shipment per story


def test_licence_with_a_deficiency_ends_granted_with_its_dues_and_time_in_each_state(folded):
    title = folded.doc("BA-EL-2025-0001")
    assert title["status"] == "granted"
    assert title["kind"] == "title"
    assert title["holder_uscc"] == scenario.FIRMS["urn:emining:cn:ent:xinjiang-example"]
    assert title["authority"] == scenario.BA_MMDD
    assert title["province"] == "PK-BA"
    assert title["project_id"] == "PRJ-BA-CHG-0001"
    assert title["received_at"] == "2025-01-08T04:00:00Z"
    assert title["decided_at"] == "2025-03-08T19:00:00Z"  # 9 March, midnight in Pakistan
    assert title["granted_on"] == "2025-03-09"
    assert title["expires_on"] == "2028-03-08"
    assert title["due"] == {"work_commencement_due": "2025-09-09", "expires_on": "2028-03-08"}
    assert title["deficiency_items"] == []
    assert title["time_in_state"] == {
        "received": 26 * 3600,  # received 8 Jan 04:00, acknowledged 9 Jan 06:00
        "acknowledged": 12 * 86400 + 13 * 3600,  # until the notice of 22 Jan (PKT)
        "deficient": 16 * 86400 + 14 * 3600,  # until resubmitted 7 Feb 09:00
        "resubmitted": 29 * 86400 + 10 * 3600,  # until granted on 9 Mar (PKT)
    }
    assert title["state_since"] == "2025-03-08T19:00:00Z"


async def test_pending_application_shows_respond_by_and_decision_due():
    views, log = await fold_scenario(0)
    steps = [s for s in scenario.story(0).steps if s.draft.data.subject == "BA-EL-2025-0001"]
    await views.feed(log.records(steps[:3]))  # received, acknowledged, deficiency notified
    title = views.doc("BA-EL-2025-0001")
    assert title["status"] == "deficient"
    assert title["due"] == {"decision_due_on": "2025-04-08", "respond_by": "2025-02-21"}
    assert len(title["deficiency_items"]) == 2
    assert title["decided_at"] is None


def test_a_refused_licence_keeps_its_appeal_deadline(folded):
    title = folded.doc("BA-EL-2025-0005")
    assert title["status"] == "refused"
    assert title["decided_at"] == "2025-03-12T19:00:00Z"
    assert title["due"] == {"appealable_until": "2025-04-12"}
    assert title["reasons"] == ["Area already under a prior application received earlier"]
    assert title["granted_on"] is None


def test_a_production_correction_supersedes_the_report_and_keeps_history(folded):
    project = folded.doc("PRJ-BA-CHG-0001")
    assert project["stage"] == "construction"
    assert project["stage_since"] == "2025-04-16"
    assert project["operator_uscc"] == scenario.FIRMS["urn:emining:cn:ent:xinjiang-example"]
    assert project["titles"] == ["BA-EL-2025-0001"]
    latest = project["latest_production"]
    assert latest["period"] == "2026-03"
    assert latest["ore_mined_t"] == "403000.000"
    assert latest["ore_milled_t"] == "389200.000"  # corrected from 393000.000
    history = folded.timeline["PRJ-BA-CHG-0001"]
    assert [e.position for e in history] == [1, 2, 3, 4, 5, 6]
    report, correction = history[4], history[5]
    assert json.loads(report.data)["ore_milled_t"] == "393000.000"  # as signed, never edited
    assert json.loads(report.effective or "{}")["ore_milled_t"] == "389200.000"
    assert report.superseded_by == correction.event_id
    assert correction.corrects == report.event_id
    assert correction.summary.startswith("corrected (incorrect data:")
    assert project["events"] == 5  # the correction re-folds, it is not an event of its own


def test_an_uncorrected_project_keeps_the_reported_figures(folded):
    latest = folded.doc("PRJ-BA-CHG-0002")["latest_production"]
    assert (latest["ore_mined_t"], latest["ore_milled_t"]) == ("403001.000", "393000.000")
    assert all(e.superseded_by is None for e in folded.timeline["PRJ-BA-CHG-0002"])


def test_an_assay_that_did_not_occur_is_undone_but_stays_in_the_timeline(folded):
    shipment = folded.doc("SHP-2026-000001")
    assert shipment["assays"] == {}
    assayed = next(e for e in folded.timeline["SHP-2026-000001"] if "assayed" in e.type)
    assert assayed.effective is None
    assert assayed.superseded_by is not None
    assert folded.doc("SHP-2026-000002")["assays"]["LOT-17-A"][0] == {
        "element": "Cu", "value": "24.6", "unit": "percent"}


def test_a_shipment_still_held_shows_its_hold_leg_and_the_approval_it_relies_on(folded):
    shipment = folded.doc("SHP-2026-000001")
    assert shipment["status"] == "held"
    assert shipment["on_hold"] is True
    assert shipment["approvals"] == ["LPCO-2026-000001"]
    assert shipment["leg"] == {"stage": "at_exit", "origin": "port_qasim",
                               "destination": "port_qasim"}
    [hold] = shipment["holds"]
    assert hold["reason"] == "sampling"
    assert hold["released_at"] is None
    assert hold["held_at"] == "2026-04-14T03:00:00Z"


def test_a_hold_released_by_clearance_and_the_shipment_delivered(folded):
    shipment = folded.doc("SHP-2026-000005")
    assert shipment["status"] == "arrived"
    assert shipment["on_hold"] is False
    [hold] = shipment["holds"]
    assert hold["held_at"] == "2026-04-14T07:00:00Z"
    assert hold["released_at"] == "2026-04-16T07:00:00Z"
    assert shipment["cleared_at"] == "2026-04-16T07:00:00Z"
    assert shipment["vessel"] == "MV Example Star"
    assert shipment["leg"] == {"stage": "delivered", "origin": "Lianyungang",
                               "destination": "Lianyungang"}
    assert shipment["outturn"] == {"wmt": "5391.200", "moisture_pct": "8.7", "dmt": "4922.166"}


def test_a_conditional_environmental_approval_closes_the_deemed_approval_clock(folded):
    eia = folded.doc("EIA-BA-2025-0002")
    assert eia["kind"] == "environmental"
    assert eia["status"] == "approved_with_conditions"
    assert eia["authority"] == scenario.BA_EPA
    assert eia["received_at"] == "2025-01-11T19:00:00Z"  # filed 12 Jan
    assert eia["decided_at"] == "2025-04-01T19:00:00Z"  # decided 2 Apr
    assert eia["conditions"] == [{"text": "Quarterly groundwater monitoring",
                                  "due_on": "2026-06-30"}]
    assert eia["due"] == {"expires_on": "2028-04-02"}
    assert eia["time_in_state"] == {"filed": 80 * 86400}


async def test_an_undecided_environmental_filing_shows_its_deemed_approval_date():
    views, log = await fold_scenario(0)
    [filed] = [s for s in scenario.story(1).steps if s.draft.data.subject == "EIA-BA-2025-0002"
               and "filed" in s.draft.data.TYPE]
    await views.feed(log.records([filed]))
    eia = views.doc("EIA-BA-2025-0002")
    assert eia["status"] == "filed"
    assert eia["due"] == {"deemed_approval_on": "2025-06-02"}  # complete 2 Feb + 4 months


def test_an_export_noc_approved_with_its_validity(folded):
    lpco = folded.doc("LPCO-2026-000002")
    assert lpco["kind"] == "export"
    assert lpco["status"] == "approved"
    assert lpco["authority"] == scenario.BA_MMDD
    assert lpco["shipment_id"] == "SHP-2026-000002"
    assert lpco["received_at"] == "2026-04-02T04:00:00Z"
    assert lpco["decided_at"] == "2026-04-04T04:00:00Z"
    assert lpco["expires_on"] == "2026-06-30"
    assert lpco["time_in_state"] == {"submitted": 2 * 86400}


async def test_batch_boundaries_do_not_change_the_views():
    one_by_one, _ = await fold_scenario(6, batch=1)
    all_at_once, _ = await fold_scenario(6, batch=10_000)
    assert one_by_one.views == all_at_once.views
    assert one_by_one.timeline == all_at_once.timeline
