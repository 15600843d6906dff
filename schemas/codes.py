"""Trade and document codes (HS, ISO 6346, IMO, references): what shipments and approvals cite."""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Any, NoReturn

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from stdnum import imo, iso6346
from stdnum.exceptions import InvalidChecksum, ValidationError

from schemas.common import Decimal2
from schemas.patterns import IdPattern


def fail(kind: str, message: str, **context: Any) -> NoReturn:
    """Refuse a value: ``kind`` is the stable error type, ``message`` may use ``{context}`` keys."""
    raise PydanticCustomError(kind, message, context or None)


MINING_HEADINGS = MappingProxyType({
    "2504": "natural graphite",
    "2511": "barytes",
    "2515": "marble and other calcareous stone",
    "2516": "granite and other building stone",
    "2519": "magnesite",
    "2520": "gypsum",
    "2526": "talc and soapstone",
    "2530": "mineral substances n.e.s. (spodumene, rare-earth ores)",
    "2601": "iron ores and concentrates",
    "2602": "manganese ores and concentrates",
    "2603": "copper ores and concentrates",
    "2604": "nickel ores and concentrates",
    "2605": "cobalt ores and concentrates",
    "2606": "aluminium ores and concentrates",
    "2607": "lead ores and concentrates",
    "2608": "zinc ores and concentrates",
    "2609": "tin ores and concentrates",
    "2610": "chromium ores and concentrates",
    "2611": "tungsten ores and concentrates",
    "2612": "uranium or thorium ores and concentrates",
    "2613": "molybdenum ores and concentrates",
    "2614": "titanium ores and concentrates",
    "2615": "niobium, tantalum, vanadium or zirconium ores and concentrates",
    "2616": "precious-metal ores and concentrates",
    "2617": "other ores and concentrates",
    "2618": "granulated slag from iron or steel",
    "2619": "slag and dross from iron or steel",
    "2620": "slag, ash and residues containing metals",
    "2621": "other slag and ash",
    "2701": "coal",
    "2702": "lignite",
    "2704": "coke and semi-coke",
    "2805": "rare-earth metals",
    "2825": "lithium oxide and hydroxide",
    "2836": "carbonates (lithium carbonate)",
    "2846": "rare-earth compounds",
    "7103": "precious and semi-precious stones",
    "7106": "silver, unwrought",
    "7108": "gold, unwrought (dore, refined bars)",
    "7201": "pig iron",
    "7202": "ferro-alloys (ferrochrome)",
    "7203": "ferrous products of direct reduction (sponge iron)",
    "7401": "copper mattes and cement copper",
    "7402": "unrefined copper (blister)",
    "7403": "refined copper (cathodes)",
    "7801": "unwrought lead (refined)",
    "7901": "unwrought zinc",
})
"""HS heading → short description: the closed list of headings the bus carries. A heading not
here is refused rather than guessed at; add one here when a new product starts moving."""

_HS_CODE = IdPattern(r"\d{4}(\d{2}){0,3}")


def _check_hs_code(value: str) -> str:
    if not _HS_CODE.fullmatch(value):
        fail("hs_code_format", "an HS code is 4, 6, 8 or 10 digits without dots, e.g. 26030000")
    if value[:4] not in MINING_HEADINGS:
        fail("hs_code_heading", "HS heading {heading} is not a mineral heading this bus carries "
             "(ores 2601-2621, coal 2701-2704, rare earths 2846, copper 7401-7403, ...)",
             heading=value[:4])
    return value


HSCode = Annotated[str, AfterValidator(_check_hs_code), Field(
    description="Harmonized System code (heading, subheading or Pakistan Customs Tariff line) "
    "under one of the headings of schemas.codes.MINING_HEADINGS",
    examples=["26030000", "2610"], json_schema_extra=_HS_CODE.schema,
)]


def heading_of(hs_code: str) -> str:
    return hs_code[:4]


def _check_container(value: str) -> str:
    if iso6346.compact(value) != value:
        fail("container_format", "write the container number in upper case without spaces")
    try:
        iso6346.validate(value)
    except InvalidChecksum:
        fail("container_checksum", "the container check digit (the 11th character) does not "
             "match the first 10: look for a typo")
    except ValidationError:
        fail("container_format", "an ISO 6346 container number is 3 letters of owner code, the "
             "category letter U, J, Z or R, 6 digits of serial and a check digit")
    return value


ContainerNumber = Annotated[str, AfterValidator(_check_container), Field(
    description="ISO 6346 freight container number with its check digit",
    examples=["CSQU3054383"], json_schema_extra={"pattern": "^[A-Z]{3}[UJZR][0-9]{7}$"},
)]

_IMO = IdPattern(r"\d{7}")


def _check_imo(value: str) -> str:
    if not _IMO.fullmatch(value):
        fail("imo_format", "an IMO ship number is 7 digits, written without the 'IMO' prefix")
    if not imo.is_valid(value):
        fail("imo_checksum", "the IMO check digit (the 7th) does not match the first 6: look "
             "for a typo")
    return value


IMONumber = Annotated[str, AfterValidator(_check_imo), Field(
    description="IMO ship identification number (7 digits, the last a check digit)",
    examples=["9074729"], json_schema_extra=_IMO.schema,
)]

_REFERENCE = IdPattern(r"[A-Za-z0-9][A-Za-z0-9./:_-]{0,63}")


def _check_reference(value: str) -> str:
    if not _REFERENCE.fullmatch(value):
        fail("reference_format", "a document reference is 1-64 letters, digits and . / : _ - "
             "starting with a letter or digit, without spaces")
    return value


Reference = Annotated[str, AfterValidator(_check_reference), Field(
    description="Another system's document number (customs declaration, bill of lading, "
    "certificate, notice, challan, contract): kept verbatim, only its alphabet is checked",
    examples=["KPEX-SB-0012345-20260304"],
    json_schema_extra=_REFERENCE.schema,
)]

_MONTH = IdPattern("[0-9]{4}-(0[1-9]|1[0-2])")


def _check_month(value: str) -> str:
    if not _MONTH.fullmatch(value):
        fail("month_format", "a reporting month is written YYYY-MM, e.g. 2026-03")
    return value


Month = Annotated[str, AfterValidator(_check_month), Field(
    description="A calendar month, YYYY-MM", examples=["2026-03"],
    json_schema_extra=_MONTH.schema,
)]

_COUNTRY = IdPattern("[A-Z]{2}")


def _check_country(value: str) -> str:
    if not _COUNTRY.fullmatch(value):
        fail("country_format", "a country is its ISO 3166-1 alpha-2 code in capitals, e.g. CN")
    return value


CountryCode = Annotated[str, AfterValidator(_check_country), Field(
    description="ISO 3166-1 alpha-2 country code", examples=["CN", "PK"],
    json_schema_extra=_COUNTRY.schema,
)]

Percentage = Annotated[Decimal2, Field(ge=0, le=100, max_digits=7, decimal_places=4)]
"""A percentage from 0 to 100 with at most 4 decimals, as a decimal string ("60", "33.3333")."""
