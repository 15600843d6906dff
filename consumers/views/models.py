"""What each synchronized view holds: typed documents, stored as JSON and served by the API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from schemas.common import Currency, Mineral, Money, Names, Province, TitleType
from schemas.events.approvals_applications import Condition
from schemas.events.projects import Capacity, ProjectKind, ProjectStage, Shareholder
from schemas.events.projects_reports import Output
from schemas.events.shipments import Buyer, Destination, ExitPoint, Incoterm
from schemas.measures import Grade, Product, Quantity


class ViewDoc(BaseModel):
    """Base of the view documents: immutable values, every field on the wire, nothing unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ProductionSummary(ViewDoc):
    period: str
    ore_mined_t: Decimal
    ore_milled_t: Decimal
    head_grades: tuple[Grade, ...]
    outputs: tuple[Output, ...] = ()
    event_id: str


class WorkforceSummary(ViewDoc):
    period: str
    pakistani: int
    chinese: int
    local_hires: int


class SafetySummary(ViewDoc):
    incidents: int = 0
    fatalities: int = 0
    injuries: int = 0
    last_incident_at: datetime | None = None


class ProjectTitle(ViewDoc):
    """A title of the project as the approvals view has it (``title_files``, read time)."""

    title_number: str
    status: str | None = None
    """The title's status in the approvals view; ``None`` when the bus has not seen it."""
    in_force: bool
    """Granted and not ended (cancelled, surrendered, expired, converted, refused...); a title
    named at registration that the bus has not seen counts as in force."""
    registered: bool = False
    """Named in the project's registration (``related_titles``)."""
    holder_uscc: str | None = None
    """The title's holder now: after an assignment, another firm than the project's operator
    may hold it (the title stays listed; whether it still serves the project is not said)."""
    granted_on: date | None = None
    expires_on: date | None = None
    converted_to: str | None = None


class Tally(ViewDoc):
    """Deliveries added up: tonnes wet and dry, how many, the first and last delivery days."""

    wmt: Decimal = Decimal(0)
    dmt: Decimal = Decimal(0)
    deliveries: int = 0
    first_on: date | None = None
    last_on: date | None = None


class Intake(Tally):
    """What a plant received from one supplying project in one product (stored in its view)."""

    supplier_project_id: str
    supplier_uscc: str
    """The supplier's operator as the deliveries named it (one tally per firm named)."""
    product: Product


class Offtake(Tally):
    """What one plant received from this project in one product (filled when read)."""

    plant_project_id: str
    plant_kind: ProjectKind
    plant_operator_uscc: str
    product: Product
    confirmed: bool = True
    """The plant named this project's operator (as it is now) as its supplier. A delivery
    naming another firm is the plant's word only: shown, never counted in what was taken."""


class ProjectView(ViewDoc):
    """A project (a mine or a plant) as its operator reported it: stage, operator, titles,
    inputs and outputs, latest production, deliveries received and taken."""

    project_id: str
    operator_uscc: str
    """The registered operator: only this firm may report for the project."""
    province: Province
    names: Names | None = None
    district: str | None = None
    minerals: tuple[Mineral, ...] = ()
    stage: ProjectStage | None = None
    stage_since: date | None = None
    operator_name: Names | None = None
    joint_venture: tuple[Shareholder, ...] = ()
    titles: tuple[str, ...] = ()
    """In the stored view, the titles named at registration; in every answer (API, CLI), the
    project's titles in force: those, and every title whose application or grant names the
    project, as the approvals view has them when read (``title_files``)."""
    title_files: tuple[ProjectTitle, ...] = ()
    """Filled when read: each title of the project with its status, ended ones marked."""
    cpec: bool | None = None
    kind: ProjectKind = ProjectKind.MINE
    inputs: tuple[Product, ...] = ()
    """What a plant takes in (declared at registration)."""
    outputs: tuple[Product, ...] = ()
    capacity: Capacity | None = None
    received: dict[Product, Tally] = {}
    """A plant's deliveries received (``project.offtake.delivered``), by product."""
    received_from: tuple[Intake, ...] = ()
    """The same by supplying project and product, in that order."""
    offtake: tuple[Offtake, ...] = ()
    """Filled when read, not stored: the deliveries other projects (plants) reported receiving
    from this one, by plant and product; computed from the plants' ``received_from`` so each
    project's view stays a fold of its own events."""
    milestones: dict[str, date] = {}
    latest_production: ProductionSummary | None = None
    latest_workforce: WorkforceSummary | None = None
    investment: dict[Currency, Decimal] = {}
    """Total disbursed, per currency."""
    safety: SafetySummary = SafetySummary()
    registered_at: datetime | None = None
    updated_at: datetime
    events: int = 0


class ApprovalKind(StrEnum):
    TITLE = "title"
    ENVIRONMENTAL = "environmental"
    EXPORT = "export"


class ApprovalStatus(StrEnum):
    """Every status an approval can be in; which apply depends on its kind."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    DEFICIENT = "deficient"
    RESUBMITTED = "resubmitted"
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    RENEWAL_APPLIED = "renewal_applied"
    RENEWAL_REFUSED = "renewal_refused"
    SHOW_CAUSE = "show_cause"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    SURRENDERED = "surrendered"
    EXPIRED = "expired"
    CONVERTED = "converted"
    FILED = "filed"
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    REJECTED = "rejected"
    DEEMED_APPROVED = "deemed_approved"
    SUBMITTED = "submitted"
    DOCUMENTS_CALLED = "documents_called"
    INSPECTION_CALLED = "inspection_called"
    AMENDED = "amended"


PENDING = frozenset({
    ApprovalStatus.RECEIVED, ApprovalStatus.ACKNOWLEDGED, ApprovalStatus.DEFICIENT,
    ApprovalStatus.RESUBMITTED, ApprovalStatus.RENEWAL_APPLIED, ApprovalStatus.FILED,
    ApprovalStatus.SUBMITTED, ApprovalStatus.DOCUMENTS_CALLED, ApprovalStatus.INSPECTION_CALLED,
})
"""Statuses in which a file awaits a decision by its authority (``?status=pending``)."""


class Royalty(ViewDoc):
    """One royalty assessment; a payment seen before its assessment has only the payment side."""

    amount: Money
    period: str | None = None
    mineral: Mineral | None = None
    due_on: date | None = None
    paid_on: date | None = None
    challan_number: str | None = None


class ApprovalView(ViewDoc):
    """A licence, environmental approval or export LPCO: where it stands and what is due when."""

    ref: str
    kind: ApprovalKind
    holder_uscc: str
    """The holder, proponent or exporter; only this firm may speak for the file."""
    application_ref: str | None = None
    """A licence application's own reference (the authority's file number), when it gave one."""
    status: ApprovalStatus | None = None
    """``None`` when the history began before the bus (no status-setting event yet)."""
    authority: str | None = None
    province: Province | None = None
    title_type: TitleType | None = None
    assessment: str | None = None
    lpco_type: str | None = None
    project_id: str | None = None
    shipment_id: str | None = None
    minerals: tuple[Mineral, ...] = ()
    area_km2: Decimal | None = None
    hs_code: str | None = None
    quantity_t: Decimal | None = None
    received_at: datetime | None = None
    decided_at: datetime | None = None
    granted_on: date | None = None
    expires_on: date | None = None
    work_commenced_on: date | None = None
    """When work on the ground began under the title (the first commencement reported)."""
    due: dict[str, date] = {}
    """Open deadlines by name: respond_by, decision_due_on, work_commencement_due,
    deemed_approval_on, reply_by, appealable_until, expires_on, suspended_until."""
    standard_due_on: date | None = None
    """While pending: the day the file should be decided by under the service standards
    (``schemas.standards``; ``consumers.views.standing``). Days pending, a breach and a deemed
    approval depend on the day the view is read, so they are computed when it is read."""
    conditions: tuple[Condition, ...] = ()
    reasons: tuple[str, ...] = ()
    """Reasons of the latest refusal, rejection, suspension or cancellation."""
    deficiency_items: tuple[str, ...] = ()
    converted_to: str | None = None
    previous_holders: tuple[str, ...] = ()
    royalties: dict[str, Royalty] = {}
    state_since: datetime | None = None
    time_in_state: dict[str, int] = {}
    """Seconds spent in each status already left (the current one runs from ``state_since``)."""
    updated_at: datetime
    events: int = 0


class ApprovalItem(ApprovalView):
    """An approval as stored, with its standing on the day it is read (never stored)."""

    as_of: date
    """The day (in Pakistan) the read-time fields below are computed for."""
    effective_status: ApprovalStatus | None
    """``status``, except an environmental filing undecided on its ``deemed_approval_on``:
    ``deemed_approved`` by law."""
    days_pending: int | None
    """Whole days since receipt while awaiting a decision, else ``null``."""
    breached: bool
    """Still pending after ``standard_due_on``."""


class LegStage(StrEnum):
    AT_ORIGIN = "at_origin"
    TO_EXIT = "to_exit"
    AT_EXIT = "at_exit"
    ABROAD = "abroad"
    DELIVERED = "delivered"


class Leg(ViewDoc):
    stage: LegStage
    origin: str
    destination: str


class Hold(ViewDoc):
    declaration_number: str
    held_at: datetime
    reason: str
    detail: str
    released_at: datetime | None = None


class Declaration(ViewDoc):
    number: str
    filed_at: datetime
    customs_station: ExitPoint
    declared_value: Money | None
    """Always set in the views; ``None`` in an answer to a caller who may not see it."""
    export_approvals: tuple[str, ...]


class ShipmentStatus(StrEnum):
    PLANNED = "planned"
    LOADED = "loaded"
    DEPARTED = "departed"
    DECLARED = "declared"
    HELD = "held"
    CLEARED = "cleared"
    CROSSED_BORDER = "crossed_border"
    AT_SEA = "at_sea"
    ARRIVED = "arrived"
    INVOICED = "invoiced"


class ShipmentView(ViewDoc):
    """A shipment from plan to invoice: where it is, what holds it, which approvals it relies on."""

    shipment_id: str
    exporter_uscc: str
    status: ShipmentStatus | None = None
    leg: Leg | None = None
    contract_ref: str | None = None
    buyer: Buyer | None = None
    product: Product | None = None
    hs_code: str | None = None
    quantity: Quantity | None = None
    incoterm: Incoterm | None = None
    origin_province: Province | None = None
    project_id: str | None = None
    title_number: str | None = None
    exit_point: ExitPoint | None = None
    destination: Destination | None = None
    planned_departure_on: date | None = None
    assays: dict[str, tuple[Grade, ...]] = {}
    """Latest grades per lot."""
    loaded_units: int = 0
    departed_at: datetime | None = None
    declaration: Declaration | None = None
    approvals: tuple[str, ...] = ()
    """The export approvals (LPCO numbers) the customs declaration relies on."""
    holds: tuple[Hold, ...] = ()
    on_hold: bool = False
    cleared_at: datetime | None = None
    departed_country_at: datetime | None = None
    vessel: str | None = None
    bill_of_lading: str | None = None
    arrived_at: datetime | None = None
    outturn: Quantity | None = None
    invoice_number: str | None = None
    invoiced_amount: Money | None = None
    exceptions: tuple[str, ...] = ()
    """Facts worth a look: a declaration without export approval, a crossing out of season."""
    updated_at: datetime
    events: int = 0


Data = TypeVar("Data", default=str)
"""A timeline entry's event data: canonical JSON text as stored (the fold's), or parsed as the
API answers it (``TimelineItem``)."""


class TimelineEntry(ViewDoc, Generic[Data]):
    """One accepted event in a subject's history; corrections supersede, never erase."""

    subject: str
    position: int
    family: str
    event_id: str
    source: str
    type: str
    time: datetime
    summary: str
    data: Data
    """The event data as signed."""
    effective: Data | None
    """The data as it now counts (corrections applied), or ``None`` if it did not occur."""
    superseded_by: str | None = None
    corrects: str | None = None
    partition: int
    offset: int


class TimelineItem(TimelineEntry[dict[str, Any]]):
    """A timeline entry as the API answers it: its data parsed (restricted fields may be left
    out). The same model, named for the OpenAPI document."""
