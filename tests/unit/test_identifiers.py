"""Identifiers accept their one canonical spelling and refuse the rest with a clear reason."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from stdnum import imo, iso6346
from stdnum.cn import uscc

from schemas.common import Frozen, Province, Side, TitleType
from schemas.identifiers import (
    CNIC,
    NTN,
    USCC,
    ApprovalRef,
    ContainerNumber,
    CountryCode,
    EnvironmentalFileNumber,
    HSCode,
    IMONumber,
    LpcoNumber,
    Month,
    OrgId,
    Percentage,
    ProjectId,
    Reference,
    ShipmentId,
    SourceId,
    TitleNumber,
    org_of_source,
    province_of_approval,
    province_of_project,
    province_of_title,
    side_of,
    title_type_of,
    title_type_of_approval,
)

SYNTHETIC_USCCS = ["91650100MA7XK3P2LA", "91310000MA1FL8QW3Y", "91110000MA01Y5RT7Y",
                   "91440300MA5GQ2N8HU"]
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def refusal(kind: Any, value: Any) -> tuple[str, str]:
    """The (error type, message) a type adapter gives for ``value``; fails if it is accepted."""
    with pytest.raises(ValidationError) as info:
        TypeAdapter(kind).validate_python(value)
    errors = info.value.errors()
    assert len(errors) == 1
    return errors[0]["type"], errors[0]["msg"]


def accepted(kind: Any, value: Any) -> Any:
    return TypeAdapter(kind).validate_python(value)


@pytest.mark.parametrize("code", SYNTHETIC_USCCS)
def test_synthetic_usccs_are_checksum_valid(code: str) -> None:
    assert uscc.is_valid(code)
    assert accepted(USCC, code) == code


@pytest.mark.parametrize(("value", "kind", "words"), [
    ("91650100MA7XK3P2LB", "uscc_checksum", "check character"),
    ("91650100ma7xk3p2la", "uscc_format", "upper case"),
    ("91650100 MA7XK3P2LA", "uscc_format", "without spaces"),
    ("9165010", "uscc_length", "has 7"),
    ("91650100MA7XK3P2OA", "uscc_format", "without I, O"),
])
def test_bad_uscc_is_refused_with_its_reason(value: str, kind: str, words: str) -> None:
    error_type, message = refusal(USCC, value)
    assert error_type == kind
    assert words in message


@given(
    st.text("0123456789", min_size=8, max_size=8),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
    st.sampled_from(USCC_ALPHABET),
)
def test_any_uscc_with_stdnum_check_character_is_accepted_and_others_refused(
    head: str, body: str, other: str,
) -> None:
    stem = head + body
    check = uscc.calc_check_digit(stem)
    assert accepted(USCC, stem + check) == stem + check
    if other != check:
        assert refusal(USCC, stem + other)[0] == "uscc_checksum"


def test_uscc_error_names_the_field_it_sits_in() -> None:
    class Firm(Frozen):
        holder_uscc: USCC

    with pytest.raises(ValidationError) as info:
        Firm(holder_uscc="91650100MA7XK3P2LB")
    assert info.value.errors()[0]["loc"] == ("holder_uscc",)


@pytest.mark.parametrize(("value", "kind"), [
    ("3520212345671", "cnic_format"),
    ("35202-1234567", "cnic_format"),
    ("85202-1234567-1", "cnic_province"),
    ("35202-1234567-0", "cnic_gender"),
])
def test_bad_cnic_is_refused(value: str, kind: str) -> None:
    assert refusal(CNIC, value)[0] == kind


@given(st.sampled_from("1234567"), st.text("0123456789", min_size=11, max_size=11),
       st.sampled_from("123456789"))
def test_formatted_cnics_with_valid_province_and_gender_digits_pass(
    province: str, middle: str, last: str,
) -> None:
    digits = province + middle + last
    value = f"{digits[:5]}-{digits[5:12]}-{digits[12]}"
    assert accepted(CNIC, value) == value


def test_ntn_is_checked_for_format_only() -> None:
    assert accepted(NTN, "4211234-5") == "4211234-5"
    assert refusal(NTN, "42112345")[0] == "ntn_format"


@pytest.mark.parametrize("value", [
    "urn:emining:pk:gov:ba-mmdd", "urn:emining:cn:ent:mcc-resources",
    "urn:emining:xx:aud:eiti-validator", "urn:emining:xx:platform:operator",
])
def test_org_ids_follow_the_urn_grammar(value: str) -> None:
    assert accepted(OrgId, value) == value


@pytest.mark.parametrize(("value", "kind"), [
    ("urn:emining:pk:gov", "org_id_format"),
    ("urn:x:pk:gov:ba-mmdd", "org_id_format"),
    ("urn:emining:us:gov:ba-mmdd", "org_id_side"),
    ("urn:emining:pk:ngo:ba-mmdd", "org_id_class"),
    ("urn:emining:pk:gov:BA-MMDD", "organisation_name"),
    ("urn:emining:pk:gov:ba--mmdd", "organisation_name"),
    ("urn:emining:pk:gov:" + "a" * 64, "organisation_name"),
])
def test_bad_org_ids_are_refused(value: str, kind: str) -> None:
    assert refusal(OrgId, value)[0] == kind


def test_source_is_an_org_with_an_optional_instance() -> None:
    assert accepted(SourceId, "urn:emining:pk:gov:ba-mmdd/gateway").endswith("/gateway")
    assert accepted(SourceId, "urn:emining:pk:gov:ba-mmdd") == "urn:emining:pk:gov:ba-mmdd"
    assert refusal(SourceId, "urn:emining:pk:gov:ba-mmdd/")[0] == "instance_name"
    assert refusal(SourceId, "urn:emining:pk:gov:ba-mmdd/a/b")[0] == "instance_name"
    assert org_of_source("urn:emining:pk:gov:ba-mmdd/gateway") == "urn:emining:pk:gov:ba-mmdd"


def test_side_of_reads_the_urn() -> None:
    assert side_of("urn:emining:pk:gov:ba-mmdd") is Side.PK
    assert side_of("urn:emining:cn:ent:mcc-resources") is Side.CN
    assert side_of("urn:emining:xx:aud:eiti-validator") is None


def test_project_id_names_its_province() -> None:
    assert accepted(ProjectId, "PRJ-BA-CHG-0007") == "PRJ-BA-CHG-0007"
    assert province_of_project("PRJ-SD-THR-0002") is Province.SINDH
    assert refusal(ProjectId, "PRJ-XX-CHG-0007")[0] == "project_id_province"
    assert refusal(ProjectId, "PRJ-BA-CHG-0000")[0] == "project_id_serial"
    assert refusal(ProjectId, "PRJ-BA-CHAG-0007")[0] == "project_id_format"


def test_title_number_names_province_and_title_type() -> None:
    assert accepted(TitleNumber, "BA-EL-2025-0153") == "BA-EL-2025-0153"
    assert province_of_title("KP-ML-2024-0012") is Province.KHYBER_PAKHTUNKHWA
    assert title_type_of("BA-MDRL-2025-0003") is TitleType.MINERAL_DEPOSIT_RETENTION_LICENCE
    kind, message = refusal(TitleNumber, "BA-XL-2025-0153")
    assert kind == "title_number_type"
    assert "'XL'" in message
    assert refusal(TitleNumber, "ZZ-EL-2025-0153")[0] == "title_number_province"
    assert refusal(TitleNumber, "BA-EL-1890-0153")[0] == "title_number_year"
    assert refusal(TitleNumber, "BA-EL-25-0153")[0] == "title_number_format"


def test_approval_ref_dispatches_on_its_prefix() -> None:
    assert accepted(ApprovalRef, "EIA-BA-2025-0031") == "EIA-BA-2025-0031"
    assert accepted(ApprovalRef, "LPCO-2026-000457") == "LPCO-2026-000457"
    assert refusal(ApprovalRef, "IEE-QQ-2025-0031")[0] == "environmental_file_province"
    assert refusal(ApprovalRef, "LPCO-26-1")[0] == "lpco_number_format"
    assert province_of_approval("IEE-PB-2025-0002") is Province.PUNJAB
    assert province_of_approval("LPCO-2026-000457") is None
    assert title_type_of_approval("SD-ML-2020-0001") is TitleType.MINING_LEASE
    assert title_type_of_approval("EIA-BA-2025-0031") is None


def test_subject_ids_of_filings_and_shipments() -> None:
    assert accepted(EnvironmentalFileNumber, "IEE-KP-2026-0100") == "IEE-KP-2026-0100"
    assert refusal(EnvironmentalFileNumber, "EIS-KP-2026-0100")[0] == "environmental_file_format"
    assert accepted(LpcoNumber, "LPCO-2026-000457") == "LPCO-2026-000457"
    assert accepted(ShipmentId, "SHP-2026-000123") == "SHP-2026-000123"
    assert refusal(ShipmentId, "SHP-2026-000000")[0] == "shipment_id_serial"
    assert refusal(ShipmentId, "shp-2026-000123")[0] == "shipment_id_format"


@pytest.mark.parametrize(("value", "kind"), [
    ("2603.00.00", "hs_code_format"),
    ("26030", "hs_code_format"),
    ("\uff18\uff15\uff10\uff13", "hs_code_format"),  # full-width digits
    ("85030000", "hs_code_heading"),
    ("2710", "hs_code_heading"),
])
def test_bad_hs_codes_are_refused(value: str, kind: str) -> None:
    assert refusal(HSCode, value)[0] == kind


@pytest.mark.parametrize("value", ["2603", "261000", "26030000", "2846901000", "7402"])
def test_mineral_hs_codes_pass(value: str) -> None:
    assert accepted(HSCode, value) == value


def test_container_check_digit_is_verified() -> None:
    assert accepted(ContainerNumber, "CSQU3054383") == "CSQU3054383"
    assert refusal(ContainerNumber, "CSQU3054384")[0] == "container_checksum"
    assert refusal(ContainerNumber, "CSQU 305438 3")[0] == "container_format"
    assert refusal(ContainerNumber, "CSQX3054383")[0] == "container_format"


@given(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
       st.text("0123456789", min_size=6, max_size=6), st.integers(1, 9))
def test_container_numbers_from_iso6346_check_digit_round_trip(
    owner: str, serial: str, shift: int,
) -> None:
    stem = owner + "U" + serial
    check = iso6346.calc_check_digit(stem)
    assert accepted(ContainerNumber, stem + check) == stem + check
    wrong = str((int(check) + shift) % 10)
    assert refusal(ContainerNumber, stem + wrong)[0] == "container_checksum"


@given(st.text("0123456789", min_size=6, max_size=6), st.integers(1, 9))
def test_imo_numbers_need_their_check_digit(stem: str, shift: int) -> None:
    check = imo.calc_check_digit(stem)
    assert accepted(IMONumber, stem + check) == stem + check
    assert refusal(IMONumber, stem + str((int(check) + shift) % 10))[0] == "imo_checksum"


def test_imo_is_written_without_its_prefix() -> None:
    kind, message = refusal(IMONumber, "IMO 9074729")
    assert kind == "imo_format"
    assert "prefix" in message


@pytest.mark.parametrize(("value", "kind"), [
    (60.5, "decimal_not_float"),
    ("NaN", "finite_number"),
    ("Infinity", "finite_number"),
    ("100.01", "less_than_equal"),
    ("-1", "greater_than_equal"),
    ("12.34567", "decimal_max_places"),
])
def test_percentages_are_exact_decimals_from_0_to_100(value: Any, kind: str) -> None:
    assert refusal(Percentage, value)[0] == kind


def test_percentage_keeps_the_decimal_as_written() -> None:
    assert accepted(Percentage, "33.3333") == Decimal("33.3333")
    assert accepted(Percentage, 100) == Decimal(100)


def test_small_codes() -> None:
    assert accepted(Month, "2026-03") == "2026-03"
    assert refusal(Month, "2026-13")[0] == "month_format"
    assert accepted(CountryCode, "CN") == "CN"
    assert refusal(CountryCode, "China")[0] == "country_format"
    assert accepted(Reference, "KPQE-SB-0012345-14042026") == "KPQE-SB-0012345-14042026"
    assert refusal(Reference, "has spaces")[0] == "reference_format"
    assert refusal(Reference, "x" * 65)[0] == "reference_format"


_PATTERNED = [(ProjectId, "PRJ-BA-CHG-0007"), (TitleNumber, "BA-EL-2025-0153"),
              (EnvironmentalFileNumber, "EIA-BA-2025-0031"), (LpcoNumber, "LPCO-2026-000457"),
              (ShipmentId, "SHP-2026-000123"), (CNIC, "35202-1234567-1"), (NTN, "4211234-5"),
              (IMONumber, "9074729"), (Reference, "KPEX-SB-0012345-20260304"),
              (Month, "2026-03"), (CountryCode, "CN"), (HSCode, "26030000"),
              (OrgId, "urn:emining:pk:gov:ba-mmdd")]


@pytest.mark.parametrize(("kind", "good"), _PATTERNED)
def test_the_check_and_the_json_schema_pattern_agree(kind: Any, good: str) -> None:
    """One pattern per identifier (``schemas.codes.IdPattern``): what the JSON Schema says is
    what the check does, digits included (ASCII 0-9, as JSON Schema's ``\\d`` is)."""
    import re  # noqa: PLC0415

    adapter = TypeAdapter(kind)
    pattern = re.compile(adapter.json_schema()["pattern"], re.ASCII)
    assert pattern.search(good)
    assert adapter.validate_python(good) == good
    eastern = good.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))  # Arabic-Indic digits
    if eastern != good:
        assert not pattern.search(eastern)
        with pytest.raises(ValidationError):
            adapter.validate_python(eastern)


def test_a_subject_id_s_parts_are_still_checked_after_the_pattern() -> None:
    """The parts the pattern cannot judge (province, year, serial) are read from the id."""
    with pytest.raises(ValidationError, match="unknown province code 'ZZ'"):
        TypeAdapter(ProjectId).validate_python("PRJ-ZZ-CHG-0007")
    with pytest.raises(ValidationError, match="starts at 1"):
        TypeAdapter(ShipmentId).validate_python("SHP-2026-000000")
    with pytest.raises(ValidationError, match="not between 1947 and 2100"):
        TypeAdapter(LpcoNumber).validate_python("LPCO-1900-000001")
    with pytest.raises(ValidationError, match="unknown title type 'XX'"):
        TypeAdapter(TitleNumber).validate_python("BA-XX-2025-0153")
    with pytest.raises(ValidationError, match="unknown province code 'ZZ'"):
        TypeAdapter(EnvironmentalFileNumber).validate_python("EIA-ZZ-2025-0031")


def test_a_key_id_has_one_pattern_for_the_envelope_and_the_registry() -> None:
    from schemas.participants import KeyId  # noqa: PLC0415
    from schemas.signing import KEY_ID, key_id  # noqa: PLC0415

    made = key_id(bytes(32))
    assert KEY_ID.fullmatch(made)
    assert TypeAdapter(KeyId).json_schema()["pattern"] == "^[0-9a-f]{16}$"
    assert TypeAdapter(KeyId).validate_python(made) == made
    assert not KEY_ID.fullmatch(made + "\n")  # `re.match("^…$")` let a trailing newline by
    assert not KEY_ID.fullmatch(made.upper())
