"""Quantities, grades, products and places that several event families measure the same way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AfterValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticKnownError, core_schema

from schemas.codes import Percentage, fail
from schemas.common import Decimal2, Frozen, Mineral, Money

T = TypeVar("T")


def _no_duplicates(items: tuple[T, ...]) -> tuple[T, ...]:
    seen: list[T] = []
    for item in items:
        if item in seen:
            fail("duplicate_item", "'{item}' is listed twice", item=str(item))
        seen.append(item)
    return items


@dataclass(frozen=True, slots=True)
class Items:
    """How many items a tuple field holds (and whether each only once), checked after the items.

    Used instead of ``Field(min_length=...)``, which on a tuple adds a second, misleading
    "too short" error whenever one item is invalid.
    """

    min_length: int = 0
    max_length: int = 100
    unique: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler,
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler,
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.update(minItems=self.min_length, maxItems=self.max_length)
        if self.unique:
            json_schema["uniqueItems"] = True
        return json_schema

    def _check(self, value: tuple[Any, ...]) -> tuple[Any, ...]:
        context = {"field_type": "Tuple", "actual_length": len(value)}
        if len(value) < self.min_length:
            raise PydanticKnownError("too_short", {**context, "min_length": self.min_length})
        if len(value) > self.max_length:
            raise PydanticKnownError("too_long", {**context, "max_length": self.max_length})
        return _no_duplicates(value) if self.unique else value


Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]
"""Free text for people (reasons, notes): one to 2000 characters, not blank."""

Label = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
"""A short free-text name (district, laboratory, place)."""

Minerals = Annotated[tuple[Mineral, ...], Items(1, len(Mineral), unique=True)]
"""The minerals a title, project or filing covers: at least one, each once, in sender's order."""

Tonnes = Annotated[Decimal2, Field(ge=0, max_digits=15, decimal_places=3)]
"""Metric tonnes to the kilogram, as a decimal string."""

AreaKm2 = Annotated[Decimal2, Field(gt=0, le=100_000, decimal_places=4)]
"""An area in square kilometres (titles, surrenders)."""

TermYears = Annotated[int, Field(ge=1, le=99)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class Element(StrEnum):
    """What an assay or head grade measures."""

    CU = "Cu"
    AU = "Au"
    AG = "Ag"
    PB = "Pb"
    ZN = "Zn"
    FE = "Fe"
    CR2O3 = "Cr2O3"
    MO = "Mo"
    LI2O = "Li2O"
    TREO = "TREO"
    S = "S"
    AS = "As"
    ASH = "ash"


class GradeUnit(StrEnum):
    PERCENT = "percent"
    GRAMS_PER_TONNE = "g/t"
    PPM = "ppm"


class Grade(Frozen):
    """One grade: copper 0.52 %, gold 0.21 g/t, Cr2O3 44.5 %."""

    element: Element
    value: Annotated[Decimal2, Field(ge=0, max_digits=12, decimal_places=6)]
    unit: GradeUnit

    @model_validator(mode="after")
    def _percent_at_most_100(self) -> Self:
        if self.unit is GradeUnit.PERCENT and self.value > 100:  # noqa: PLR2004 - a percentage
            fail("grade_percent", "a grade in percent cannot exceed 100")
        return self


def _one_grade_per_element(grades: tuple[Grade, ...]) -> tuple[Grade, ...]:
    _no_duplicates(tuple(g.element for g in grades))
    return grades


Grades = Annotated[tuple[Grade, ...], Items(1, 20), AfterValidator(_one_grade_per_element)]


class Product(StrEnum):
    """What leaves a mine or a plant: the traded products of the bus's sites, from ore and
    concentrate to the metal and chemicals a smelter, refinery or processing plant makes."""

    COPPER_CONCENTRATE = "copper_concentrate"
    BLISTER_COPPER = "blister_copper"
    GOLD_DORE = "gold_dore"
    LEAD_CONCENTRATE = "lead_concentrate"
    ZINC_CONCENTRATE = "zinc_concentrate"
    CHROMITE_ORE = "chromite_ore"
    IRON_ORE = "iron_ore"
    LIGNITE = "lignite"
    COAL = "coal"
    SPODUMENE_CONCENTRATE = "spodumene_concentrate"
    RARE_EARTH_CONCENTRATE = "rare_earth_concentrate"
    RARE_EARTH_COMPOUNDS = "rare_earth_compounds"
    CHROMITE_CONCENTRATE = "chromite_concentrate"
    COPPER_CATHODE = "copper_cathode"
    REFINED_GOLD = "refined_gold"
    REFINED_LEAD = "refined_lead"
    ZINC_METAL = "zinc_metal"
    FERROCHROME = "ferrochrome"
    PIG_IRON = "pig_iron"
    SPONGE_IRON = "sponge_iron"
    LITHIUM_CARBONATE = "lithium_carbonate"
    LITHIUM_HYDROXIDE = "lithium_hydroxide"


PRODUCT_HEADINGS: dict[Product, frozenset[str]] = {
    Product.COPPER_CONCENTRATE: frozenset({"2603"}),
    Product.BLISTER_COPPER: frozenset({"7402"}),
    Product.GOLD_DORE: frozenset({"7108"}),
    Product.LEAD_CONCENTRATE: frozenset({"2607"}),
    Product.ZINC_CONCENTRATE: frozenset({"2608"}),
    Product.CHROMITE_ORE: frozenset({"2610"}),
    Product.IRON_ORE: frozenset({"2601"}),
    Product.LIGNITE: frozenset({"2702"}),
    Product.COAL: frozenset({"2701"}),
    Product.SPODUMENE_CONCENTRATE: frozenset({"2530"}),
    Product.RARE_EARTH_CONCENTRATE: frozenset({"2530", "2617"}),
    Product.RARE_EARTH_COMPOUNDS: frozenset({"2846"}),
    Product.CHROMITE_CONCENTRATE: frozenset({"2610"}),
    Product.COPPER_CATHODE: frozenset({"7403"}),
    Product.REFINED_GOLD: frozenset({"7108"}),
    Product.REFINED_LEAD: frozenset({"7801"}),
    Product.ZINC_METAL: frozenset({"7901"}),
    Product.FERROCHROME: frozenset({"7202"}),
    Product.PIG_IRON: frozenset({"7201"}),
    Product.SPONGE_IRON: frozenset({"7203"}),
    Product.LITHIUM_CARBONATE: frozenset({"2836"}),
    Product.LITHIUM_HYDROXIDE: frozenset({"2825"}),
}
"""HS headings each product may be declared under; a mismatch is refused (a classic misfiling)."""


def check_heading(product: Product, hs_code: str) -> None:
    """Refuse an HS code whose heading does not fit the product."""
    allowed = PRODUCT_HEADINGS[product]
    if hs_code[:4] not in allowed:
        fail("hs_code_product", "HS heading {heading} does not fit {product}: expected "
             + " or ".join(sorted(allowed)), heading=hs_code[:4], product=product.value)


class Quantity(Frozen):
    """A bulk quantity: wet tonnes, moisture, and the dry tonnes they imply."""

    wmt: Annotated[Tonnes, Field(gt=0)]
    moisture_pct: Annotated[Percentage, Field(lt=100)]
    dmt: Annotated[Tonnes, Field(gt=0)]

    @model_validator(mode="after")
    def _dry_matches_wet(self) -> Self:
        expected = self.wmt * (100 - self.moisture_pct) / 100
        tolerance = max(Decimal("0.01"), self.wmt / 1000)
        if abs(self.dmt - expected) > tolerance:
            fail("quantity_dry_wet", "dmt {dmt} does not match wmt x (1 - moisture): expected "
                 "about {expected}", dmt=str(self.dmt), expected=str(round(expected, 3)))
        return self


class Point(Frozen):
    """A WGS 84 position in decimal degrees."""

    lat: Annotated[Decimal2, Field(ge=-90, le=90, decimal_places=7)]
    lon: Annotated[Decimal2, Field(ge=-180, le=180, decimal_places=7)]


_PAKISTAN_LAT = (Decimal(23), Decimal(38))
_PAKISTAN_LON = (Decimal(60), Decimal(78))


def _closed_ring_in_pakistan(points: tuple[Point, ...]) -> tuple[Point, ...]:
    if points[0] != points[-1]:
        fail("boundary_open", "a boundary is a closed ring: repeat the first point at the end")
    if len(set(points)) < 3:  # noqa: PLR2004 - a polygon's minimum
        fail("boundary_degenerate", "a boundary needs at least 3 distinct points")
    for point in points:
        if not (_PAKISTAN_LAT[0] <= point.lat <= _PAKISTAN_LAT[1]
                and _PAKISTAN_LON[0] <= point.lon <= _PAKISTAN_LON[1]):
            fail("boundary_outside_pakistan", "point lat {lat} lon {lon} lies outside Pakistan "
                 "(latitude and longitude swapped?)", lat=str(point.lat), lon=str(point.lon))
    return points


Boundary = Annotated[tuple[Point, ...], Items(4, 1000), AfterValidator(_closed_ring_in_pakistan)]
"""A title's area as a closed WGS 84 ring (first point repeated last) inside Pakistan."""


def _positive(money: Money) -> Money:
    if money.amount <= 0:
        fail("money_not_positive", "the amount must be greater than zero")
    return money


PositiveMoney = Annotated[Money, AfterValidator(_positive)]
"""An amount that actually moved (a payment, a disbursement, an invoice): more than zero."""
