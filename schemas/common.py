"""Closed value domains shared by every event family: provinces, minerals, titles, money, names."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

# The closed sets live in a module without pydantic (the CLI's start-up reads them); they are
# the same classes here.
from schemas.enums import Currency as Currency  # noqa: PLC0414 - re-exported
from schemas.enums import Function as Function  # noqa: PLC0414 - re-exported
from schemas.enums import Language as Language  # noqa: PLC0414 - re-exported
from schemas.enums import Mineral as Mineral  # noqa: PLC0414 - re-exported
from schemas.enums import Province as Province  # noqa: PLC0414 - re-exported
from schemas.enums import Role as Role  # noqa: PLC0414 - re-exported
from schemas.enums import Side as Side  # noqa: PLC0414 - re-exported
from schemas.enums import TitleType as TitleType  # noqa: PLC0414 - re-exported


class Frozen(BaseModel):
    """Base of every value object: immutable, no unknown fields, enum values on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


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
