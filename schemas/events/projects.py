"""Project events: a project's life from registration to closure, told by its operator.

A project is a mine or a plant that adds value to what mines produce (a concentrator, smelter,
refinery or other processing plant): its ``kind``, and for a plant the products it takes in and
makes, are declared at registration.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.common import Frozen, Names, Province
from schemas.enums import ProjectStage as ProjectStage  # noqa: PLC0414 - re-exported
from schemas.events.examples import LOCAL_NTN, OPERATOR, PARTNER, PROJECT, TITLE
from schemas.events.spec import EventSpec, firm, words
from schemas.identifiers import (
    NTN,
    USCC,
    OrgId,
    Percentage,
    ProjectId,
    Reference,
    TitleNumber,
    province_of_project,
    province_of_title,
)
from schemas.lifecycle_steps import (
    OPEN_STAGES,
    STAGES,
    named,
    stage_move_allowed,
    step,
)
from schemas.lifecycle_steps import PROJECT as LIFECYCLE
from schemas.measures import Items, Label, Minerals, Product, Text, Tonnes
from schemas.topics import PROJECTS


def stage_change_allowed(from_stage: ProjectStage, to_stage: ProjectStage) -> bool:
    """Forward by any number of stages, or a restart out of care and maintenance: the project
    lifecycle's rule (``schemas.lifecycles``), which also holds the view's stage to it."""
    return stage_move_allowed(from_stage.value, to_stage.value)


class ProjectKind(StrEnum):
    """What a project is: a mine, or a plant that processes what mines (or other plants) give it."""

    MINE = "mine"
    """Extracts ore (open pit, underground, quarry): takes no inputs from other projects."""
    CONCENTRATOR = "concentrator"
    """Mill and beneficiation or flotation plant: ore in, concentrate out."""
    SMELTER = "smelter"
    """Concentrate or ore in, metal or alloy out (blister copper, ferrochrome, lead bullion)."""
    REFINERY = "refinery"
    """Impure metal in, refined metal out (blister to cathode, dore to gold bars)."""
    PROCESSING_PLANT = "processing_plant"
    """Any other plant: chemical conversion (lithium, rare earths), direct reduction, etc."""


PLANT_KINDS = frozenset(ProjectKind) - {ProjectKind.MINE}
"""The kinds that take inputs and report deliveries received (``OfftakeDelivered``)."""

ProductList = Annotated[tuple[Product, ...], Items(0, 12, unique=True)]


class Capacity(Frozen):
    """Nameplate capacity: so many tonnes a year of one of the project's declared products."""

    tonnes_per_year: Annotated[Tonnes, Field(gt=0)]
    product: Product
    """An input (throughput, e.g. concentrate smelted) or an output (e.g. cathode made)."""


class ProjectEvent(EventData):
    """Base of the family: keyed by project id, spoken for by the operator's USCC."""

    TOPIC: ClassVar[str] = PROJECTS
    SUBJECT_FIELD: ClassVar[str] = "project_id"

    project_id: ProjectId
    operator_uscc: USCC

    def scope(self) -> Scope:
        return Scope(province=province_of_project(self.project_id),
                     parties=frozenset({self.operator_uscc}))


class Shareholder(Frozen):
    """A joint-venture partner: a firm (USCC or NTN) or a public body on the bus (OrgId)."""

    name: Names
    uscc: USCC | None = None
    ntn: NTN | None = None
    org_id: OrgId | None = None
    share_pct: Annotated[Percentage, Field(gt=0)]

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not self.ids():
            fail("shareholder_unidentified", "a shareholder needs a uscc, an ntn or an org_id")
        return self

    def ids(self) -> frozenset[str]:
        return frozenset(i for i in (self.uscc, self.ntn, self.org_id) if i)


def _shares_add_up(partners: tuple[Shareholder, ...]) -> tuple[Shareholder, ...]:
    total = sum((p.share_pct for p in partners), Decimal(0))
    if total != 100:  # noqa: PLR2004 - a whole
        fail("joint_venture_total", "joint-venture shares add up to {total} %, not 100 %",
             total=str(total))
    seen: set[str] = set()
    for partner in partners:
        if partner.ids() & seen:
            fail("joint_venture_duplicate", "partner {name} is listed twice", name=partner.name.en)
        seen |= partner.ids()
    return partners


JointVenture = Annotated[
    tuple[Shareholder, ...], Items(1, 30), AfterValidator(_shares_add_up)
]


class ProjectRegistered(ProjectEvent):
    """A project entered the platform's register (the subject's first event)."""

    TYPE: ClassVar[str] = "pk.emining.project.registered"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR,
        "names": {"en": "Chagai North Copper-Gold Project", "zh": "查盖北铜金项目"},
        "province": "PK-BA", "district": "Chagai", "minerals": ["copper", "gold"],
        "stage": "feasibility",
        "operator_name": {"en": "Xinjiang Example Mining Co., Ltd.", "zh": "新疆示例矿业有限公司"},
        "joint_venture": [
            {"name": {"en": "Xinjiang Example Mining Co., Ltd."}, "uscc": OPERATOR,
             "share_pct": "60"},
            {"name": {"en": "Shanghai Example Resources Co., Ltd."}, "uscc": PARTNER,
             "share_pct": "15"},
            {"name": {"en": "Balochistan Example Minerals (Pvt) Ltd"}, "ntn": LOCAL_NTN,
             "share_pct": "25"},
        ],
        "related_titles": [TITLE], "cpec": True,
        "kind": "mine", "inputs": [], "outputs": ["copper_concentrate"],
        "capacity": {"tonnes_per_year": "90000.000", "product": "copper_concentrate"},
    }

    names: Names
    province: Province
    district: Label
    minerals: Minerals
    stage: ProjectStage
    operator_name: Names
    joint_venture: JointVenture
    related_titles: Annotated[tuple[TitleNumber, ...], Items(0, 200, unique=True)] = ()
    cpec: bool
    kind: ProjectKind = ProjectKind.MINE
    """A mine (the default, and what every project registered before kinds existed is), or a
    plant: concentrator, smelter, refinery, processing plant."""
    inputs: ProductList = ()
    """What a plant takes in (at least one); a mine takes nothing from other projects."""
    outputs: ProductList = ()
    """What the project makes and sells on: at least one for a plant; optional for a mine."""
    capacity: Capacity | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._kind_consistent()
        if self.names.zh is None:
            fail("project_name_zh", "a project is registered with its Chinese name (names.zh)")
        if province_of_project(self.project_id) is not self.province:
            fail("project_province", "province {province} differs from the project id's",
                 province=self.province.value)
        for title in self.related_titles:
            if province_of_title(title) is not self.province:
                fail("project_title_province", "title {title} is not in {province}",
                     title=title, province=self.province.value)
        return self

    def _kind_consistent(self) -> None:
        if self.kind is ProjectKind.MINE:
            if self.inputs:
                fail("project_mine_inputs", "a mine takes no inputs from other projects; "
                     "register a plant (kind concentrator, smelter, refinery or "
                     "processing_plant) to declare inputs")
        else:
            if not self.inputs:
                fail("project_plant_inputs", "a {project_kind} declares at least one input (the "
                     "products it takes in)", project_kind=self.kind.value)
            if not self.outputs:
                fail("project_plant_outputs", "a {project_kind} declares at least one output (the "
                     "products it makes)", project_kind=self.kind.value)
        both = sorted(set(self.inputs) & set(self.outputs))
        if both:
            fail("project_product_in_and_out", "{product} is declared both as an input and "
                 "an output", product=both[0].value)
        if self.capacity is not None and self.capacity.product not in {*self.inputs,
                                                                       *self.outputs}:
            fail("project_capacity_product", "the capacity is given in {product}, which is "
                 "neither an input nor an output of the project",
                 product=self.capacity.product.value)

    def scope(self) -> Scope:
        return Scope(province=self.province, parties=frozenset({self.operator_uscc}))


class ProjectStageChanged(ProjectEvent):
    TYPE: ClassVar[str] = "pk.emining.project.stage.changed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR,
        "from_stage": "feasibility", "to_stage": "construction", "effective_on": "2026-07-01",
        "reason": "Bankable feasibility study accepted by the board",
    }

    from_stage: ProjectStage
    to_stage: ProjectStage
    effective_on: date
    reason: Text | None = None

    @model_validator(mode="after")
    def _allowed(self) -> Self:
        if not stage_change_allowed(self.from_stage, self.to_stage):
            fail("stage_change", "a project cannot move from {from_stage} to {to_stage}",
                 from_stage=self.from_stage.value, to_stage=self.to_stage.value)
        return self


class Milestone(StrEnum):
    FEASIBILITY_COMPLETED = "feasibility_completed"
    FINANCIAL_CLOSE = "financial_close"
    FIRST_ORE = "first_ore"
    FIRST_CONCENTRATE = "first_concentrate"
    COMMERCIAL_OPERATION = "commercial_operation"


class MilestoneReached(ProjectEvent):
    TYPE: ClassVar[str] = "pk.emining.project.milestone.reached"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR,
        "milestone": "financial_close", "reached_on": "2026-06-15",
    }

    milestone: Milestone
    reached_on: date
    note: Text | None = None


class OwnershipChanged(ProjectEvent):
    """The joint venture's shares changed, possibly with a new operator."""

    TYPE: ClassVar[str] = "pk.emining.project.ownership.changed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR, "effective_on": "2027-01-01",
        "joint_venture": [
            {"name": {"en": "Xinjiang Example Mining Co., Ltd."}, "uscc": OPERATOR,
             "share_pct": "50"},
            {"name": {"en": "Shanghai Example Resources Co., Ltd."}, "uscc": PARTNER,
             "share_pct": "25"},
            {"name": {"en": "Balochistan Example Minerals (Pvt) Ltd"}, "ntn": LOCAL_NTN,
             "share_pct": "25"},
        ],
        "approval_ref": "SIFC-2026-0088",
    }

    effective_on: date
    joint_venture: JointVenture
    new_operator_uscc: USCC | None = None
    new_operator_name: Names | None = None
    approval_ref: Reference | None = None

    @model_validator(mode="after")
    def _new_operator_named(self) -> Self:
        if (self.new_operator_uscc is None) != (self.new_operator_name is None):
            fail("new_operator", "a new operator needs both new_operator_uscc and "
                 "new_operator_name")
        return self

    def scope(self) -> Scope:
        parties = {self.operator_uscc}
        if self.new_operator_uscc is not None:
            parties.add(self.new_operator_uscc)
        return Scope(province=province_of_project(self.project_id), parties=frozenset(parties))


OPERATOR_FIRM = firm("operator firm")

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(ProjectRegistered, OPERATOR_FIRM,
              (LIFECYCLE, named("stage", {s: {None} for s in STAGES},
                                "opens the file at the ``stage`` it names")),
              rules=("project_matched",)),
    EventSpec(ProjectStageChanged, OPERATOR_FIRM,
              (LIFECYCLE, named(
                  "to_stage",
                  {to: {f for f in STAGES if stage_move_allowed(f, to)} for to in STAGES[1:]},
                  "to the ``to_stage`` it names, from the ``from_stage`` it names, which must be "
                  "the project's: forward by any number of stages, or a restart from care and "
                  "maintenance; closure is final", claims="from_stage")),
              detail=lambda d: f"{d.from_stage.value} → {d.to_stage.value}"),
    EventSpec(MilestoneReached, OPERATOR_FIRM,
              (LIFECYCLE, step(OPEN_STAGES, None, "not after closure")),
              detail=lambda d: words(d.milestone.value)),
    EventSpec(OwnershipChanged, OPERATOR_FIRM, (LIFECYCLE, step(STAGES, None))),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
