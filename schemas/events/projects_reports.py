"""Project reports: what a running project produces, spends, employs and suffers, month by month."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import model_validator

from schemas.codes import fail
from schemas.common import Frozen, UtcDatetime
from schemas.events.examples import OPERATOR, PARTNER, PLANT, PROJECT
from schemas.events.projects import OPERATOR_FIRM, ProjectEvent
from schemas.events.spec import COMMERCIAL, EventSpec, firm, words
from schemas.identifiers import USCC, Month, ProjectId, Reference
from schemas.lifecycle_steps import MINED_STAGES, STAGES, step
from schemas.lifecycle_steps import PROJECT as LIFECYCLE
from schemas.measures import (
    Count,
    Grades,
    Items,
    Point,
    PositiveMoney,
    Product,
    Quantity,
    Text,
    Tonnes,
)


class Output(Frozen):
    product: Product
    dmt: Tonnes


class ProductionReported(ProjectEvent):
    """A month's production (EITI 3.2): ore mined and milled, head grades, what was produced."""

    TYPE: ClassVar[str] = "pk.emining.project.production.reported"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR, "period": "2028-03",
        "ore_mined_t": "412500.000", "ore_milled_t": "398200.000",
        "head_grades": [{"element": "Cu", "value": "0.52", "unit": "percent"},
                        {"element": "Au", "value": "0.21", "unit": "g/t"}],
        "outputs": [{"product": "copper_concentrate", "dmt": "7430.500"}],
    }

    period: Month
    ore_mined_t: Tonnes
    ore_milled_t: Tonnes
    head_grades: Grades
    outputs: Annotated[tuple[Output, ...], Items(0, 12)] = ()

    @model_validator(mode="after")
    def _one_line_per_product(self) -> Self:
        products = [o.product for o in self.outputs]
        if len(set(products)) != len(products):
            fail("duplicate_item", "a product is reported twice in outputs")
        return self


class InvestmentCategory(StrEnum):
    EXPLORATION = "exploration"
    CAPEX = "capex"
    OPEX = "opex"
    COMMUNITY = "community"
    ENVIRONMENT = "environment"


class FundingSource(StrEnum):
    EQUITY = "equity"
    SHAREHOLDER_LOAN = "shareholder_loan"
    PROJECT_FINANCE = "project_finance"
    GRANT = "grant"


class InvestmentDisbursed(ProjectEvent):
    TYPE: ClassVar[str] = "pk.emining.project.investment.disbursed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR, "disbursed_on": "2026-08-01",
        "amount": {"amount": "12500000.00", "currency": "USD"}, "category": "capex",
        "source": "equity", "reference": "INV-2026-014",
    }

    disbursed_on: date
    amount: PositiveMoney
    category: InvestmentCategory
    source: FundingSource
    reference: Reference | None = None


class WorkforceReported(ProjectEvent):
    """Headcount at month end; local hires are the Pakistani staff from the project's district."""

    TYPE: ClassVar[str] = "pk.emining.project.workforce.reported"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR, "period": "2026-09",
        "pakistani": 1240, "chinese": 310, "local_hires": 860,
    }

    period: Month
    pakistani: Count
    chinese: Count
    local_hires: Count

    @model_validator(mode="after")
    def _local_within_pakistani(self) -> Self:
        if self.local_hires > self.pakistani:
            fail("workforce_local", "local hires ({local}) are Pakistani staff, so cannot exceed "
                 "the Pakistani headcount ({pakistani})", local=self.local_hires,
                 pakistani=self.pakistani)
        return self


class IncidentCategory(StrEnum):
    FATALITY = "fatality"
    LOST_TIME_INJURY = "lost_time_injury"
    MEDICAL_TREATMENT = "medical_treatment"
    NEAR_MISS = "near_miss"
    ENVIRONMENTAL_RELEASE = "environmental_release"
    SECURITY = "security"


class HSEIncidentReported(ProjectEvent):
    TYPE: ClassVar[str] = "pk.emining.project.hse.incident.reported"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR, "incident_ref": "HSE-2026-031",
        "occurred_at": "2026-10-04T06:40:00Z", "category": "lost_time_injury", "fatalities": 0,
        "injuries": 1, "description": "Haul truck operator injured his hand during tyre change",
        "location": {"lat": "29.0412000", "lon": "61.8870000"},
    }

    incident_ref: Reference
    occurred_at: UtcDatetime
    category: IncidentCategory
    fatalities: Count
    injuries: Count
    description: Text
    location: Point | None = None

    @model_validator(mode="after")
    def _fatalities_match_category(self) -> Self:
        if (self.category is IncidentCategory.FATALITY) != (self.fatalities > 0):
            fail("incident_fatalities", "category fatality and a fatality count above 0 go "
                 "together")
        return self


class OfftakeDelivered(ProjectEvent):
    """A plant received ore, concentrate or metal from a mine or another plant (offtake).

    What stays in Pakistan to be processed, so value addition can be followed.

    Keyed by the receiving plant (it is the plant's input ledger): one delivery, or the
    deliveries of one day under one contract. The supplier is named by its project and its
    operator's USCC; a plant's view totals what it received by product and by supplier, and the
    supplier's view shows, when read, which plants took how much.
    """

    TYPE: ClassVar[str] = "pk.emining.project.offtake.delivered"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PLANT, "operator_uscc": PARTNER,
        "supplier_project_id": PROJECT, "supplier_uscc": OPERATOR,
        "product": "copper_concentrate",
        "quantity": {"wmt": "5400.000", "moisture_pct": "8.5", "dmt": "4941.000"},
        "delivered_on": "2028-04-30", "contract_ref": "OFT-CHG-2027-001",
        "delivery_ref": "WB-2028-04-0117",
        "grades": [{"element": "Cu", "value": "24.8", "unit": "percent"},
                   {"element": "Au", "value": "6.1", "unit": "g/t"}],
    }

    supplier_project_id: ProjectId
    """The mine (or upstream plant) the delivery came from."""
    supplier_uscc: USCC
    """The supplying project's operator."""
    product: Product
    quantity: Quantity
    delivered_on: date
    contract_ref: Reference | None = None
    """The offtake agreement; none for a transfer between two projects of one operator."""
    delivery_ref: Reference | None = None
    """A weighbridge ticket, delivery note or receipt number."""
    grades: Grades | None = None
    """The plant's receiving assay, when there is one."""

    @model_validator(mode="after")
    def _from_another_project(self) -> Self:
        if self.supplier_project_id == self.project_id:
            fail("offtake_same_project", "a project does not deliver to itself: "
                 "supplier_project_id is the receiving project")
        return self


EVENTS: tuple[EventSpec, ...] = (
    EventSpec(ProductionReported, OPERATOR_FIRM,
              (LIFECYCLE, step(MINED_STAGES, None,
                               "once construction began (commissioning ore); a late return may "
                               "follow care and maintenance or closure")),
              detail=lambda d: f"{d.period}: {d.ore_milled_t} t milled"),
    EventSpec(InvestmentDisbursed, OPERATOR_FIRM, (LIFECYCLE, step(STAGES, None))),
    EventSpec(WorkforceReported, OPERATOR_FIRM, (LIFECYCLE, step(STAGES, None))),
    EventSpec(HSEIncidentReported, OPERATOR_FIRM, (LIFECYCLE, step(STAGES, None)),
              detail=lambda d: words(d.category.value)),
    EventSpec(OfftakeDelivered,
              firm("the receiving plant's operator (a receipt is reported by whoever received "
                   "it)"),
              (LIFECYCLE, step(MINED_STAGES, None,
                               "a delivery received by a plant, once construction began "
                               "(commissioning feed); a late receipt may follow care and "
                               "maintenance or closure")),
              detail=lambda d: f"{d.quantity.dmt} dmt {words(d.product.value)} from "
                               f"{d.supplier_project_id} on {d.delivered_on}",
              restricted={"contract_ref": COMMERCIAL}),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
