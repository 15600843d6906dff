"""Subject identifiers: the Kafka keys of the shared topics (projects, titles, filings, shipments).

Each encodes what authority needs to know without a lookup (a project's or title's province, a
title's type), so an event's scope is a pure function of the event.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from schemas.codes import fail
from schemas.common import Province, TitleType
from schemas.patterns import IdPattern

PROVINCE_CODES: dict[str, Province] = {p.value.removeprefix("PK-"): p for p in Province}
"""Two-letter province codes used inside our identifiers (``BA`` for ``PK-BA``)."""

_TITLE_CODES = {t.value: t for t in TitleType}
_FIRST_YEAR, _LAST_YEAR = 1947, 2100


def _province(code: str, kind: str, what: str) -> Province:
    if code not in PROVINCE_CODES:
        fail(f"{kind}_province", f"unknown province code '{{code}}' in the {what}; one of "
             + ", ".join(sorted(PROVINCE_CODES)), code=code)
    return PROVINCE_CODES[code]


def _year(text: str, kind: str, what: str) -> None:
    if not _FIRST_YEAR <= int(text) <= _LAST_YEAR:
        fail(f"{kind}_year", f"the year {{year}} in the {what} is not between 1947 and 2100",
             year=int(text))


def _serial(text: str, kind: str, what: str) -> None:
    if int(text) == 0:
        fail(f"{kind}_serial", f"the serial number of a {what} starts at 1, not 0")


_PROJECT_ID = IdPattern(r"PRJ-[A-Z]{2}-[A-Z]{3}-\d{4}")


def _check_project_id(value: str) -> str:
    if not _PROJECT_ID.fullmatch(value):
        fail("project_id_format", "a project id is PRJ-<province>-<district>-<4 digits>, e.g. "
             "PRJ-BA-CHG-0007")
    _, province, _, serial = value.split("-")
    _province(province, "project_id", "project id")
    _serial(serial, "project_id", "project id")
    return value


ProjectId = Annotated[str, AfterValidator(_check_project_id), Field(
    description="Project id: PRJ, province code, 3-letter district code, serial",
    examples=["PRJ-BA-CHG-0007"], json_schema_extra=_PROJECT_ID.schema,
)]


def province_of_project(project_id: str) -> Province:
    return PROVINCE_CODES[project_id[4:6]]


_TITLE_NUMBER = IdPattern(r"[A-Z]{2}-[A-Z]{2,4}-\d{4}-\d{4}")


def _check_title_number(value: str) -> str:
    if not _TITLE_NUMBER.fullmatch(value):
        fail("title_number_format", "a title number is <province>-<title type>-<year>-<4 "
             "digits>, e.g. BA-EL-2025-0153")
    province, title_type, year, serial = value.split("-")
    _province(province, "title_number", "title number")
    if title_type not in _TITLE_CODES:
        fail("title_number_type", "unknown title type '{code}' in the title number; one of "
             + ", ".join(_TITLE_CODES) + " (the authority numbers the title on receipt of "
             "the application; the application's own reference goes in application_ref)",
             code=title_type)
    _year(year, "title_number", "title number")
    _serial(serial, "title_number", "title number")
    return value


TitleNumber = Annotated[str, AfterValidator(_check_title_number), Field(
    description="Mineral title number, assigned by the licensing authority when it receives the "
    "application and kept for the title's whole life: province, title type, year, serial",
    examples=["BA-EL-2025-0153"],
    json_schema_extra=_TITLE_NUMBER.schema,
)]


def province_of_title(title_number: str) -> Province:
    return PROVINCE_CODES[title_number[:2]]


def title_type_of(title_number: str) -> TitleType:
    return _TITLE_CODES[title_number.split("-")[1]]


_ENV_FILE = IdPattern(r"(IEE|EIA)-[A-Z]{2}-\d{4}-\d{4}")


def _check_env_file(value: str) -> str:
    if not _ENV_FILE.fullmatch(value):
        fail("environmental_file_format", "an environmental file number is <IEE or EIA>-"
             "<province>-<year>-<4 digits>, e.g. EIA-BA-2025-0031")
    _, province, year, serial = value.split("-")
    _province(province, "environmental_file", "environmental file number")
    _year(year, "environmental_file", "environmental file number")
    _serial(serial, "environmental_file", "environmental file number")
    return value


EnvironmentalFileNumber = Annotated[str, AfterValidator(_check_env_file), Field(
    description="File number a provincial EPA gives an IEE or EIA filing: assessment kind, "
    "province, year, serial", examples=["EIA-BA-2025-0031"],
    json_schema_extra=_ENV_FILE.schema,
)]

_LPCO = IdPattern(r"LPCO-\d{4}-\d{6}")


def _check_lpco(value: str) -> str:
    if not _LPCO.fullmatch(value):
        fail("lpco_number_format", "an LPCO number is LPCO-<year>-<6 digits>, e.g. "
             "LPCO-2026-000457")
    _, year, serial = value.split("-")
    _year(year, "lpco_number", "LPCO number")
    _serial(serial, "lpco_number", "LPCO number")
    return value


LpcoNumber = Annotated[str, AfterValidator(_check_lpco), Field(
    description="Reference of a Pakistan Single Window licence, permit, certificate or other "
    "(LPCO) document, such as an export NOC", examples=["LPCO-2026-000457"],
    json_schema_extra=_LPCO.schema,
)]


def _check_approval_ref(value: str) -> str:
    """An approvals-topic subject: a title, an environmental file or an LPCO, told by prefix."""
    if value.startswith(("IEE-", "EIA-")):
        return _check_env_file(value)
    if value.startswith("LPCO-"):
        return _check_lpco(value)
    return _check_title_number(value)


ApprovalRef = Annotated[str, AfterValidator(_check_approval_ref), Field(
    description="Subject of an approvals-topic event: a title number, an environmental file "
    "number or an LPCO number", examples=["BA-EL-2025-0153", "EIA-BA-2025-0031"],
)]


def province_of_approval(ref: str) -> Province | None:
    """The province a title or environmental file belongs to; ``None`` for (federal) LPCOs."""
    if ref.startswith(("IEE-", "EIA-")):
        return PROVINCE_CODES[ref[4:6]]
    if ref.startswith("LPCO-"):
        return None
    return province_of_title(ref)


_SHIPMENT_ID = IdPattern(r"SHP-\d{4}-\d{6}")


def _check_shipment_id(value: str) -> str:
    if not _SHIPMENT_ID.fullmatch(value):
        fail("shipment_id_format", "a shipment id is SHP-<year>-<6 digits>, e.g. SHP-2026-000123")
    _, year, serial = value.split("-")
    _year(year, "shipment_id", "shipment id")
    _serial(serial, "shipment_id", "shipment id")
    return value


ShipmentId = Annotated[str, AfterValidator(_check_shipment_id), Field(
    description="Shipment id: SHP, year, serial", examples=["SHP-2026-000123"],
    json_schema_extra=_SHIPMENT_ID.schema,
)]

_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _check_event_id(value: str) -> str:
    if not _EVENT_ID.fullmatch(value):
        fail("event_id_format", "an event id is 1-128 letters, digits and . _ : - (a UUID or "
             "ULID fits)")
    return value


EventId = Annotated[str, AfterValidator(_check_event_id), Field(
    description="The CloudEvents id of another event (unique per source)",
    examples=["0194f5b2-6c1e-7d3a-9a43-2f1c7e0b5a11"],
)]


def title_type_of_approval(ref: str) -> TitleType | None:
    """The title type of an approvals-topic subject; ``None`` for environmental files and LPCOs."""
    if ref.startswith(("IEE-", "EIA-", "LPCO-")):
        return None
    return title_type_of(ref)
