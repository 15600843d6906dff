"""Closed value domains shared by every event family: provinces, minerals, titles, money, names."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


class Frozen(BaseModel):
    """Base of every value object: immutable, no unknown fields, enum values on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class Side(StrEnum):
    PK = "PK"
    CN = "CN"


class Role(StrEnum):
    AGENCY = "agency"
    FIRM = "firm"
    AUDITOR = "auditor"
    PLATFORM = "platform"


class Function(StrEnum):
    """What an organisation does for the platform, beyond its role: alerts find their
    recipients by function in the registry, never by a fixed organisation id."""

    LICENSING = "licensing"
    """A provincial mines and minerals department: grants and decides mineral titles."""
    ENVIRONMENT = "environment"
    """An environmental protection agency: decides IEEs and EIAs."""
    CUSTOMS = "customs"
    """Clears or holds export declarations."""
    INVESTMENT_FACILITATION = "investment_facilitation"
    """Follows applications past their service standard (SIFC, the Board of Investment)."""
    TRADE_WINDOW = "trade_window"
    """Issues export approvals (LPCOs): the single window."""
    PORT = "port"
    """Loads vessels: a port authority."""
    BORDER_POST = "border_post"
    """Sees cargo across a land border (the dry port at Sost before Khunjerab)."""


class Province(StrEnum):
    """ISO 3166-2:PK subdivisions."""

    BALOCHISTAN = "PK-BA"
    KHYBER_PAKHTUNKHWA = "PK-KP"
    PUNJAB = "PK-PB"
    SINDH = "PK-SD"
    GILGIT_BALTISTAN = "PK-GB"
    AZAD_JAMMU_KASHMIR = "PK-JK"
    ISLAMABAD = "PK-IS"


class TitleType(StrEnum):
    """Mineral title types of the provincial mineral rules."""

    RECONNAISSANCE_LICENCE = "RL"
    EXPLORATION_LICENCE = "EL"
    MINERAL_DEPOSIT_RETENTION_LICENCE = "MDRL"
    MINING_LEASE = "ML"
    PROSPECTING_LICENCE = "PL"
    SMALL_SCALE_MINING_LEASE = "SSML"
    MINOR_MINERALS = "MM"


class Mineral(StrEnum):
    COPPER = "copper"
    GOLD = "gold"
    SILVER = "silver"
    LEAD = "lead"
    ZINC = "zinc"
    IRON_ORE = "iron_ore"
    CHROMITE = "chromite"
    LIGNITE = "lignite"
    COAL = "coal"
    LITHIUM = "lithium"
    RARE_EARTHS = "rare_earths"
    MOLYBDENUM = "molybdenum"


class Currency(StrEnum):
    """ISO 4217 currencies used on the platform."""

    PKR = "PKR"
    USD = "USD"
    CNY = "CNY"


class Language(StrEnum):
    EN = "en"
    ZH = "zh"
    UR = "ur"


def _not_float(value: object) -> object:
    if isinstance(value, float):
        raise PydanticCustomError(
            "decimal_not_float",
            'give a decimal string such as "12.5", not a float: floats are inexact and break '
            "canonical JSON",
        )
    return value


def _not_number(value: object) -> object:
    if isinstance(value, int | float):
        raise PydanticCustomError(
            "datetime_not_number",
            "give an ISO 8601 time with a UTC offset, such as 2026-03-01T09:30:00Z, not a number",
        )
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Decimal2 = Annotated[Decimal, BeforeValidator(_not_float), Field(allow_inf_nan=False)]
"""A decimal quantity: travels as a JSON string, never a float (floats break canonical JSON)."""

UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_not_number), AfterValidator(_to_utc)]
"""A point in time. Any explicit offset is accepted and normalised to UTC (written ``...Z``);
a naive time is refused, because "10:00" means different instants in Islamabad and Beijing."""


class Money(Frozen):
    amount: Annotated[
        Decimal,
        BeforeValidator(_not_float),
        Field(ge=0, allow_inf_nan=False, max_digits=20, decimal_places=4),
    ]
    currency: Currency


class Names(Frozen):
    """A name in the platform's languages; English is required, Chinese and Urdu where known."""

    en: Annotated[str, Field(min_length=1, max_length=300)]
    zh: Annotated[str | None, Field(min_length=1, max_length=300)] = None
    ur: Annotated[str | None, Field(min_length=1, max_length=300)] = None
