"""Each kind of invalid event data is refused, with an error that says where and why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.base import EventData
from schemas.events import (
    ApplicationWithdrawn,
    BorderCrossed,
    DeficiencyNotified,
    EnvironmentalApprovalDecided,
    EnvironmentalApprovalFiled,
    ExportApprovalDecided,
    HSEIncidentReported,
    InvestmentDisbursed,
    LicenceApplicationReceived,
    LicenceCancelled,
    LicenceConverted,
    LicenceGranted,
    LicenceRestored,
    LotLoaded,
    ProductionReported,
    ProjectCorrected,
    ProjectRegistered,
    ProjectStageChanged,
    ShipmentCorrected,
    ShipmentPlanned,
    VesselLoaded,
    WorkforceReported,
)
from schemas.events.approvals_applications import add_years
from schemas.events.examples import LOCAL_NTN, OPERATOR, PARTNER
from schemas.events.projects import ProjectStage, stage_change_allowed

NAME = {"en": "Example Partner"}


def example(cls: type[EventData], **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(vars(cls)["EXAMPLE"])
    data.update(changes)
    return data


def refused(cls: type[EventData], **changes: Any) -> tuple[tuple[int | str, ...], str, str]:
    """(location, error type, message) of the single error ``changes`` cause in the example."""
    with pytest.raises(ValidationError) as info:
        cls.model_validate(example(cls, **changes))
    errors = info.value.errors()
    assert len(errors) == 1, errors
    return errors[0]["loc"], errors[0]["type"], errors[0]["msg"]


def test_bad_province_is_refused_at_its_field() -> None:
    loc, kind, _ = refused(ProjectRegistered, province="PK-XX")
    assert (loc, kind) == (("province",), "enum")


def test_unknown_enum_value_is_refused() -> None:
    assert refused(ProjectRegistered, stage="mothballed")[:2] == (("stage",), "enum")


def test_extra_field_is_refused() -> None:
    assert refused(LicenceGranted, colour="green")[:2] == (("colour",), "extra_forbidden")


def test_malformed_cnic_inside_the_applicant_is_located() -> None:
    applicant = {"name": NAME, "ntn": LOCAL_NTN, "representative_cnic": "35202-1234567-0"}
    loc, kind, _ = refused(LicenceApplicationReceived, applicant=applicant)
    assert (loc, kind) == (("applicant", "representative_cnic"), "cnic_gender")


def test_naive_datetime_is_refused() -> None:
    loc, kind, _ = refused(LicenceApplicationReceived, received_at="2025-11-03T10:12:40")
    assert (loc, kind) == (("received_at",), "timezone_aware")


def test_offset_datetime_is_stored_in_utc() -> None:
    event = LicenceApplicationReceived.model_validate(
        example(LicenceApplicationReceived, received_at="2025-11-03T10:12:40+05:00"))
    assert event.received_at == datetime(2025, 11, 3, 5, 12, 40, tzinfo=UTC)
    assert event.model_dump(mode="json")["received_at"] == "2025-11-03T05:12:40Z"


def test_epoch_number_is_not_a_time() -> None:
    assert refused(HSEIncidentReported, occurred_at=1775000000)[1] == "datetime_not_number"


def test_floats_and_nan_are_refused_in_quantities() -> None:
    loc, kind, msg = refused(ProductionReported, ore_mined_t=412500.5)
    assert (loc, kind) == (("ore_mined_t",), "decimal_not_float")
    assert "decimal string" in msg
    assert refused(ProductionReported, ore_milled_t="NaN")[:2] == (("ore_milled_t",),
                                                                   "finite_number")


def test_negative_money_is_refused() -> None:
    loc, kind, _ = refused(InvestmentDisbursed, amount={"amount": "-5", "currency": "USD"})
    assert (loc, kind) == (("amount", "amount"), "greater_than_equal")
    assert refused(InvestmentDisbursed, amount={"amount": "0", "currency": "USD"})[1] == (
        "money_not_positive")
    assert refused(InvestmentDisbursed, amount={"amount": "5", "currency": "EUR"})[:2] == (
        ("amount", "currency"), "enum")


def test_joint_venture_shares_must_add_up_to_100() -> None:
    partners = [{"name": NAME, "uscc": OPERATOR, "share_pct": "60"},
                {"name": NAME, "uscc": PARTNER, "share_pct": "30"}]
    loc, kind, msg = refused(ProjectRegistered, joint_venture=partners)
    assert (loc, kind) == (("joint_venture",), "joint_venture_total")
    assert "90" in msg


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=8))
def test_any_split_of_100_percent_is_a_valid_joint_venture(weights: list[int]) -> None:
    cents = [w * 10_000 // sum(weights) for w in weights]
    cents[0] += 10_000 - sum(cents)
    if any(c <= 0 for c in cents):
        return
    partners = [{"name": NAME, "ntn": f"{1000000 + i}-1", "share_pct": str(Decimal(c) / 100)}
                for i, c in enumerate(cents)]
    event = ProjectRegistered.model_validate(example(ProjectRegistered, joint_venture=partners))
    assert sum(p.share_pct for p in event.joint_venture) == 100


def test_partner_listed_twice_or_unidentified_is_refused() -> None:
    twice = [{"name": NAME, "uscc": OPERATOR, "share_pct": "50"},
             {"name": NAME, "uscc": OPERATOR, "share_pct": "50"}]
    assert refused(ProjectRegistered, joint_venture=twice)[1] == "joint_venture_duplicate"
    anonymous = [{"name": NAME, "share_pct": "100"}]
    loc, kind, _ = refused(ProjectRegistered, joint_venture=anonymous)
    assert (loc, kind) == (("joint_venture", 0), "shareholder_unidentified")


def test_project_facts_must_agree_with_its_id() -> None:
    assert refused(ProjectRegistered, province="PK-SD")[1] == "project_province"
    assert refused(ProjectRegistered, related_titles=["SD-ML-2020-0001"])[1] == (
        "project_title_province")
    assert refused(ProjectRegistered, names={"en": "No Chinese name"})[1] == "project_name_zh"
    assert refused(ProjectRegistered, minerals=["copper", "copper"])[:2] == (("minerals",),
                                                                           "duplicate_item")


def test_stage_moves_forward_or_restarts_from_care_and_maintenance() -> None:
    assert stage_change_allowed(ProjectStage.EXPLORATION, ProjectStage.CLOSURE)
    assert stage_change_allowed(ProjectStage.CARE_AND_MAINTENANCE, ProjectStage.PRODUCTION)
    assert not stage_change_allowed(ProjectStage.CLOSURE, ProjectStage.PRODUCTION)
    loc, kind, msg = refused(ProjectStageChanged, from_stage="production", to_stage="feasibility")
    assert (loc, kind) == ((), "stage_change")
    assert "production to feasibility" in msg


def test_reports_check_their_own_arithmetic() -> None:
    assert refused(WorkforceReported, local_hires=2000)[1] == "workforce_local"
    assert refused(HSEIncidentReported, category="fatality")[1] == "incident_fatalities"
    grades = [{"element": "Cu", "value": "101", "unit": "percent"}]
    assert refused(ProductionReported, head_grades=grades)[:2] == (("head_grades", 0),
                                                                  "grade_percent")


def test_boundary_must_be_a_closed_ring_inside_pakistan() -> None:
    ring = LicenceApplicationReceived.EXAMPLE["boundary"]
    swapped = [{"lat": p["lon"], "lon": p["lat"]} for p in ring]
    loc, kind, msg = refused(LicenceApplicationReceived, boundary=swapped)
    assert (loc, kind) == (("boundary",), "boundary_outside_pakistan")
    assert "swapped" in msg
    assert refused(LicenceApplicationReceived, boundary=ring[:-1])[1] == "boundary_open"
    off_the_globe = [{"lat": "91", "lon": "61"}, *ring[1:]]
    assert refused(LicenceApplicationReceived, boundary=off_the_globe)[:2] == (
        ("boundary", 0, "lat"), "less_than_equal")


def test_application_must_agree_with_its_title_number() -> None:
    assert refused(LicenceApplicationReceived, title_type="ML")[1] == "title_type_mismatch"
    assert refused(LicenceApplicationReceived, province="PK-KP")[1] == "title_province_mismatch"


def test_licence_dates_must_make_sense() -> None:
    assert refused(LicenceGranted, expires_on="2030-01-31")[1] == "term_expiry"
    assert LicenceGranted.model_validate(example(LicenceGranted, expires_on="2029-02-01"))
    assert refused(DeficiencyNotified, respond_by="2025-11-01")[1] == "respond_by_order"
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)


def test_cancellation_requires_a_prior_hearing() -> None:
    data = example(LicenceCancelled)
    del data["hearing_reference"]
    with pytest.raises(ValidationError) as info:
        LicenceCancelled.model_validate(data)
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [
        (("hearing_reference",), "missing")]
    assert refused(LicenceCancelled, hearing_held_on="2027-07-01")[1] == "hearing_order"


def test_restoring_a_cancelled_title_needs_the_appeal() -> None:
    assert refused(LicenceRestored, appeal_reference=None)[1] == "appeal_reference_missing"
    restored = LicenceRestored.model_validate(
        example(LicenceRestored, restored_from="suspended", appeal_reference=None))
    assert restored.appeal_reference is None


def test_only_licences_convert_and_only_to_leases() -> None:
    assert refused(LicenceConverted, title_number="BA-ML-2020-0001")[1] == "conversion_from"
    assert refused(LicenceConverted, new_title_number="BA-EL-2028-0012")[1] == "conversion_to"
    assert refused(LicenceConverted, new_title_number="KP-ML-2028-0012")[1] == (
        "conversion_province")


def test_environmental_decisions_explain_themselves() -> None:
    assert refused(EnvironmentalApprovalDecided, conditions=[])[1] == "decision_conditions"
    assert refused(EnvironmentalApprovalDecided, decision="rejected", conditions=[])[1] == (
        "decision_reasons")
    assert refused(EnvironmentalApprovalFiled, assessment="IEE")[1] == "assessment_mismatch"


def test_deemed_approval_falls_four_months_after_a_complete_filing() -> None:
    filed = EnvironmentalApprovalFiled.model_validate(
        example(EnvironmentalApprovalFiled, filed_on="2025-10-01", complete_on="2025-10-31"))
    assert filed.deemed_approved_on == date(2026, 2, 28)
    pending = EnvironmentalApprovalFiled.model_validate(
        example(EnvironmentalApprovalFiled, complete_on=None))
    assert pending.deemed_approved_on is None


def test_approved_export_lpco_states_its_validity() -> None:
    assert refused(ExportApprovalDecided, valid_until=None)[1] == "lpco_valid_until"
    assert refused(ExportApprovalDecided, hs_code="85030000")[:2] == (("hs_code",),
                                                                     "hs_code_heading")


def test_shipment_plan_checks_heading_and_route() -> None:
    assert refused(ShipmentPlanned, hs_code="26080000")[1] == "hs_code_product"
    khunjerab = {"exit_point": "sost_khunjerab", "incoterm": "DAP"}
    assert refused(ShipmentPlanned, destination={"country": "AE", "place": "Dubai"},
                   **khunjerab)[1] == "route_land_crossing"
    assert refused(ShipmentPlanned, exit_point="sost_khunjerab")[1] == "route_incoterm"
    quantity = {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "5400.000"}
    assert refused(ShipmentPlanned, quantity=quantity)[:2] == (("quantity",),
                                                               "quantity_dry_wet")


def test_loaded_units_need_valid_distinct_containers() -> None:
    unit = dict(LotLoaded.EXAMPLE["units"][0])
    bad = {**unit, "container_number": "CSQU3054384"}
    assert refused(LotLoaded, units=[bad])[:2] == (("units", 0, "container_number"),
                                                   "container_checksum")
    assert refused(LotLoaded, units=[unit, unit])[:2] == (("units",), "duplicate_item")
    assert refused(LotLoaded, units=[{**unit, "net_wmt": "30"}])[1] == "unit_weights"


def test_vessels_load_only_at_seaports() -> None:
    assert refused(VesselLoaded, port="sost_khunjerab")[1] == "vessel_port"
    assert refused(VesselLoaded, imo_number="9074728")[:2] == (("imo_number",), "imo_checksum")


@pytest.mark.parametrize(("crossed_at", "in_season"), [
    ("2026-06-02T07:45:00Z", True),
    ("2026-03-31T20:00:00Z", True),
    ("2026-11-30T19:30:00Z", False),
    ("2026-12-15T08:00:00Z", False),
])
def test_khunjerab_season_is_recorded_not_enforced(crossed_at: str, in_season: bool) -> None:
    event = BorderCrossed.model_validate(example(BorderCrossed, crossed_at=crossed_at))
    assert event.within_protocol_season is in_season


def test_corrections_are_coherent() -> None:
    assert refused(ShipmentCorrected, replacement={"lot_id": "X"})[1] == (
        "replacement_unexpected")
    assert refused(ProjectCorrected, replacement={"ore_milled_t": 1.5})[1] == (
        "replacement_float")
    assert refused(ProjectCorrected, replacement={"project_id": "PRJ-BA-CHG-0008"})[1] == (
        "replacement_fixed_field")
    assert refused(ProjectCorrected, replacement={"operator_uscc": PARTNER})[1] == (
        "replacement_fixed_field")
    assert refused(ProjectCorrected, replacement={})[1] == "replacement_empty"
    assert refused(ProjectCorrected,
                   corrected_type="pk.emining.shipment.lot.assayed.v1")[1] == (
        "corrected_type_family")
    assert refused(ProjectCorrected, corrected_type="production.reported")[1] == (
        "corrected_type_format")


def test_optional_text_cannot_be_blank() -> None:
    assert refused(ApplicationWithdrawn, reason="   ")[:2] == (("reason",),
                                                             "string_pattern_mismatch")
