"""Identifiers of the contract, checked at the edge so a typo never becomes a Kafka key.

Every identifier has exactly one spelling on the wire (upper case, no spaces, the separators
shown in the examples): identifiers are Kafka keys and are matched by string equality against the
participants registry, so two spellings of one thing would split its history. Checksums come from
``python-stdnum`` wherever it has them; only the platform's own formats are hand-written.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, Field
from stdnum.cn import uscc
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.pk import cnic

from schemas.codes import (
    MINING_HEADINGS,
    ContainerNumber,
    CountryCode,
    HSCode,
    IMONumber,
    Month,
    Percentage,
    Reference,
    fail,
)
from schemas.common import Side
from schemas.patterns import IdPattern
from schemas.subjects import (
    PROVINCE_CODES,
    ApprovalRef,
    EnvironmentalFileNumber,
    EventId,
    LpcoNumber,
    ProjectId,
    ShipmentId,
    TitleNumber,
    province_of_approval,
    province_of_project,
    province_of_title,
    title_type_of,
    title_type_of_approval,
)

__all__ = [
    "CNIC",
    "MINING_HEADINGS",
    "NTN",
    "PROVINCE_CODES",
    "USCC",
    "ApprovalRef",
    "ContainerNumber",
    "CountryCode",
    "EnvironmentalFileNumber",
    "EventId",
    "HSCode",
    "IMONumber",
    "LpcoNumber",
    "Month",
    "OrgId",
    "Percentage",
    "ProjectId",
    "Reference",
    "ShipmentId",
    "SourceId",
    "TitleNumber",
    "org_of_source",
    "province_of_approval",
    "province_of_project",
    "province_of_title",
    "side_of",
    "title_type_of",
    "title_type_of_approval",
]
"""One import point for every identifier type: party ids are defined here, subject ids in
``schemas.subjects``, trade and document codes in ``schemas.codes``."""


@lru_cache(maxsize=4096)  # a few hundred firms recur in every event; stdnum costs ~60 µs a call
def _check_uscc(value: str) -> str:
    if uscc.compact(value) != value:
        fail("uscc_format", "write the USCC in upper case without spaces or dashes")
    try:
        uscc.validate(value)
    except InvalidLength:
        fail("uscc_length", "a USCC has 18 characters, this one has {length}", length=len(value))
    except InvalidChecksum:
        fail("uscc_checksum", "the USCC check character (the 18th) does not match the first "
             "17: look for a typo")
    except ValidationError:
        fail("uscc_format", "a USCC is 8 digits then 10 characters from 0-9 and A-Y without "
             "I, O, S, V and Z")
    return value


USCC = Annotated[str, AfterValidator(_check_uscc), Field(
    description="Unified Social Credit Code of a Chinese enterprise (GB 32100-2015)",
    examples=["91650100MA7XK3P2LA"],
    json_schema_extra={"pattern": "^[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}$"},
)]

_CNIC = IdPattern(r"\d{5}-\d{7}-\d")


def _check_cnic(value: str) -> str:
    if not _CNIC.fullmatch(value):
        fail("cnic_format", "a CNIC is written #####-#######-# (13 digits, two dashes)")
    if value[0] not in cnic.PROVINCES:
        fail("cnic_province", "the first digit of a CNIC is a province code from 1 to 7")
    if not cnic.is_valid(value):
        fail("cnic_gender", "the last digit of a CNIC cannot be 0")
    return value


CNIC = Annotated[str, AfterValidator(_check_cnic), Field(
    description="Pakistani Computerised National Identity Card number",
    examples=["35202-1234567-1"], json_schema_extra=_CNIC.schema,
)]

_NTN = IdPattern(r"\d{7}-\d")


def _check_ntn(value: str) -> str:
    if not _NTN.fullmatch(value):
        fail("ntn_format", "an NTN is written #######-# (7 digits, a dash, 1 digit)")
    return value


NTN = Annotated[str, AfterValidator(_check_ntn), Field(
    description="Pakistani National Tax Number (FBR). Format only: the check digit's algorithm "
    "is not published", examples=["4211234-5"], json_schema_extra=_NTN.schema,
)]

_SLUG = IdPattern("[a-z0-9]+(-[a-z0-9]+)*")
_ORG_SIDES = ("pk", "cn", "xx")
_ORG_CLASSES = ("gov", "ent", "aud", "platform")
_SLUG_MAX = 63


def _check_slug(slug: str, what: str) -> None:
    if not _SLUG.fullmatch(slug) or len(slug) > _SLUG_MAX:
        fail(f"{what}_name", f"the {what} name '{{slug}}' must be 1-63 characters of a-z and "
             "0-9 in words joined by single dashes", slug=slug)


def _check_org_id(value: str) -> str:
    parts = value.split(":")
    if parts[:2] != ["urn", "emining"] or len(parts) != 5:  # noqa: PLR2004 - the grammar's arity
        fail("org_id_format", "an organisation id is urn:emining:<side>:<class>:<name>, e.g. "
             "urn:emining:pk:gov:ba-mmdd")
    _, _, side, kind, slug = parts
    if side not in _ORG_SIDES:
        fail("org_id_side", "the side '{side}' of an organisation id must be pk, cn or xx",
             side=side)
    if kind not in _ORG_CLASSES:
        fail("org_id_class", "the class '{klass}' of an organisation id must be gov, ent, aud or "
             "platform", klass=kind)
    _check_slug(slug, "organisation")
    return value


OrgId = Annotated[str, AfterValidator(_check_org_id), Field(
    description="""An organisation on the bus, as a URN (X-Road's member identifier, flattened):

        org-id = "urn:emining:" side ":" class ":" name
        side   = "pk" | "cn" | "xx"        ; xx: neither side (independent auditors, the platform)
        class  = "gov" | "ent" | "aud" | "platform"
        name   = word *("-" word)          ; word = 1*(a-z | 0-9), at most 63 characters""",
    examples=["urn:emining:pk:gov:ba-mmdd", "urn:emining:cn:ent:mcc-resources"],
    json_schema_extra={"pattern": f"^urn:emining:({'|'.join(_ORG_SIDES)}):"
                       f"({'|'.join(_ORG_CLASSES)}):{_SLUG.expression}$"},
)]


def _check_source_id(value: str) -> str:
    org, _, instance = value.partition("/")
    _check_org_id(org)
    if "/" in value:
        _check_slug(instance, "instance")
    return value


SourceId = Annotated[str, AfterValidator(_check_source_id), Field(
    description='One publishing instance of an organisation: org-id ["/" instance], the '
    "instance named like an organisation name (X-Road's subsystem)",
    examples=["urn:emining:pk:gov:ba-mmdd/gateway", "urn:emining:cn:ent:mcc-resources"],
)]


def org_of_source(source_id: str) -> str:
    """The organisation of a source: ``urn:emining:pk:gov:ba-mmdd/gw`` → ``…:ba-mmdd``."""
    return source_id.partition("/")[0]


def side_of(org_id: str) -> Side | None:
    """The side an organisation id names; ``None`` for ``xx`` (neither side)."""
    side = org_id.split(":")[2]
    return None if side == "xx" else Side(side.upper())
