"""Approvals beside the title itself: environmental (IEE/EIA), export LPCOs and royalty."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.common import Mineral, Province, UtcDatetime
from schemas.enums import Severity
from schemas.events.approvals_applications import AUTHORITY, Conditions, Reasons, TitleEvent
from schemas.events.decisions import decided
from schemas.events.examples import (
    BA_EPA,
    BA_MMDD,
    EIA_FILE,
    LPCO,
    OPERATOR,
    PROJECT,
    SHIPMENT,
    TITLE,
)
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.events.spec import EventAlert, EventSpec, Texts, agency, firm, party, words
from schemas.identifiers import (
    USCC,
    EnvironmentalFileNumber,
    HSCode,
    LpcoNumber,
    Month,
    OrgId,
    Percentage,
    ProjectId,
    Reference,
    ShipmentId,
    TitleNumber,
    province_of_approval,
    province_of_project,
    province_of_title,
)
from schemas.lifecycle_steps import (
    ENV_DECISIONS,
    ENVIRONMENTAL,
    EXPORT,
    LPCO_OPEN,
    LPCO_WORK,
    ROYALTY_AFTER,
    named,
    step,
)
from schemas.lifecycle_steps import TITLE as TITLE_LIFECYCLE
from schemas.measures import Items, PositiveMoney, Text, Tonnes
from schemas.messages import (
    Day,
    Emitter,
    Firm,
    Ident,
    Number,
    Org,
    Param,
    PartyParam,
    Term,
)
from schemas.topics import APPROVALS

DEEMED_APPROVAL_MONTHS = 4
"""An IEE/EIA with no decision this many months after a complete filing is deemed approved."""


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class AssessmentKind(StrEnum):
    IEE = "IEE"
    """Initial Environmental Examination: smaller projects."""
    EIA = "EIA"
    """Environmental Impact Assessment: projects with significant effects."""


class EnvironmentalEvent(EventData):
    """Base of environmental approvals: keyed by the EPA's file number, about the proponent."""

    TOPIC: ClassVar[str] = APPROVALS
    SUBJECT_FIELD: ClassVar[str] = "file_number"

    file_number: EnvironmentalFileNumber
    proponent_uscc: USCC

    def scope(self) -> Scope:
        return Scope(province=province_of_approval(self.file_number),
                     parties=frozenset({self.proponent_uscc}))


class EnvironmentalApprovalFiled(EnvironmentalEvent):
    """An IEE or EIA was filed; once ``complete_on`` is known the deemed-approval clock runs."""

    TYPE: ClassVar[str] = "pk.emining.approval.environmental.filed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "file_number": EIA_FILE, "proponent_uscc": OPERATOR, "assessment": "EIA",
        "province": "PK-BA", "epa": BA_EPA, "project_id": PROJECT,
        "title_number": TITLE, "filed_on": "2025-12-01", "complete_on": "2025-12-22",
    }

    assessment: AssessmentKind
    province: Province
    epa: OrgId
    project_id: ProjectId | None = None
    title_number: TitleNumber | None = None
    filed_on: date
    complete_on: date | None = None
    """The day the EPA accepted the filing as complete (may follow later resubmissions)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.file_number[:3] != self.assessment.value:
            fail("assessment_mismatch", "assessment {assessment} differs from the file number's",
                 assessment=self.assessment.value)
        if province_of_approval(self.file_number) is not self.province:
            fail("file_province_mismatch", "province {province} differs from the file number's",
                 province=self.province.value)
        if self.project_id and province_of_project(self.project_id) is not self.province:
            fail("project_province_mismatch", "the project is not in {province}",
                 province=self.province.value)
        if self.title_number and province_of_title(self.title_number) is not self.province:
            fail("title_province_mismatch", "the title is not in {province}",
                 province=self.province.value)
        if self.complete_on and self.complete_on < self.filed_on:
            fail("complete_on_order", "complete_on cannot precede filed_on")
        return self

    @property
    def deemed_approved_on(self) -> date | None:
        """When silence becomes approval: four months after the filing was complete."""
        if self.complete_on is None:
            return None
        return add_months(self.complete_on, DEEMED_APPROVAL_MONTHS)


class EnvironmentalDecision(StrEnum):
    APPROVED = "approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions"
    REJECTED = "rejected"
    DEEMED_APPROVED = "deemed_approved"


class EnvironmentalApprovalDecided(EnvironmentalEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.environmental.decided"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "file_number": EIA_FILE, "proponent_uscc": OPERATOR,
        "decision": "approved_with_conditions", "decided_on": "2026-03-30",
        "conditions": [{"text": "Quarterly groundwater monitoring at four wells",
                        "due_on": "2026-06-30"}],
        "reasons": [], "valid_until": "2029-03-29",
    }

    decision: EnvironmentalDecision
    decided_on: date
    conditions: Conditions = ()
    reasons: Annotated[tuple[Text, ...], Items(0, 50)] = ()
    valid_until: date | None = None

    @model_validator(mode="after")
    def _decision_explained(self) -> Self:
        conditional = self.decision is EnvironmentalDecision.APPROVED_WITH_CONDITIONS
        if conditional != bool(self.conditions):
            fail("decision_conditions", "conditions are given exactly when the decision is "
                 "approved_with_conditions")
        if self.decision is EnvironmentalDecision.REJECTED and not self.reasons:
            fail("decision_reasons", "a rejection gives its reasons")
        return self


APPROVED = frozenset({"approved", "approved_with_conditions", "deemed_approved"})
"""An IEE/EIA in force: what an environmental protection order may follow."""


class ProtectionOrderIssued(EnvironmentalEvent):
    """The EPA ordered the proponent to comply with its approval, or to stop work until it does.

    An environmental protection order (section 16 of the Pakistan Environmental Protection Act
    1997 and the provincial acts after it) names what to do (``directions``) and by when; with
    ``stop_work`` it halts the operations the approval covers until the order is complied with.
    """

    TYPE: ClassVar[str] = "pk.emining.approval.environmental.order.issued"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "file_number": EIA_FILE, "proponent_uscc": OPERATOR, "order_ref": "BEPA-EPO-2026-0007",
        "issued_on": "2026-08-10", "comply_by": "2026-09-09", "stop_work": True,
        "directions": [("Stop blasting within 500 m of the village until the vibration "
                        "monitoring plan is approved"),
                       "Submit the overdue quarterly groundwater monitoring report"],
    }

    order_ref: Reference
    issued_on: date
    comply_by: date
    stop_work: bool
    """The order halts the operations the approval covers until it is complied with."""
    directions: Reasons

    @model_validator(mode="after")
    def _comply_after_issue(self) -> Self:
        if self.comply_by <= self.issued_on:
            fail("comply_by_order", "comply_by must be after issued_on")
        return self


class LpcoType(StrEnum):
    EXPORT_NOC = "export_noc"
    RELEASE_ORDER = "release_order"
    CERTIFICATE = "certificate"


class LpcoStatus(StrEnum):
    SUBMITTED = "submitted"
    DOCUMENTS_CALLED = "documents_called"
    INSPECTION_CALLED = "inspection_called"
    APPROVED = "approved"
    REJECTED = "rejected"
    AMENDED = "amended"
    CANCELLED = "cancelled"


class ExportApprovalDecided(EventData):
    """A step in a PSW licence/permit/certificate/other (LPCO) for an export of minerals."""

    TYPE: ClassVar[str] = "pk.emining.approval.export.decided"
    TOPIC: ClassVar[str] = APPROVALS
    SUBJECT_FIELD: ClassVar[str] = "lpco_number"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "lpco_number": LPCO, "exporter_uscc": OPERATOR, "lpco_type": "export_noc",
        "status": "approved", "decided_at": "2026-04-02T10:15:00Z", "province": "PK-BA",
        "hs_code": "26030000", "quantity_t": "5000.000", "valid_until": "2026-07-01",
        "issuing_agency": BA_MMDD, "shipment_id": SHIPMENT,
    }

    lpco_number: LpcoNumber
    exporter_uscc: USCC
    lpco_type: LpcoType
    status: LpcoStatus
    decided_at: UtcDatetime
    province: Province
    """Province the minerals come from: export NOCs for minerals are provincial."""
    hs_code: HSCode
    quantity_t: Tonnes | None = None
    valid_until: date | None = None
    issuing_agency: OrgId
    shipment_id: ShipmentId | None = None
    remarks: Text | None = None

    @model_validator(mode="after")
    def _approval_has_validity(self) -> Self:
        if self.status is LpcoStatus.APPROVED and self.valid_until is None:
            fail("lpco_valid_until", "an approved LPCO states valid_until")
        # a day's slack: decided_at is UTC, valid_until a calendar date in Pakistan (UTC+5)
        if self.valid_until and self.valid_until < self.decided_at.date() - timedelta(days=1):
            fail("lpco_valid_until", "valid_until lies before the decision")
        return self

    def scope(self) -> Scope:
        return Scope(province=self.province, parties=frozenset({self.exporter_uscc}))


class RoyaltyAssessed(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.royalty.assessed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": "BA-ML-2028-0012", "holder_uscc": OPERATOR,
        "assessment_ref": "ROY-BA-2028-0301", "period": "2028-03", "mineral": "copper",
        "quantity_t": "7430.500", "rate_pct": "5",
        "amount": {"amount": "1215000.00", "currency": "USD"}, "due_on": "2028-04-30",
    }

    assessment_ref: Reference
    period: Month
    mineral: Mineral
    quantity_t: Tonnes
    rate_pct: Percentage
    amount: PositiveMoney
    due_on: date


class RoyaltyPaid(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.royalty.paid"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": "BA-ML-2028-0012", "holder_uscc": OPERATOR,
        "assessment_ref": "ROY-BA-2028-0301", "challan_number": "CH-2028-448812",
        "paid_on": "2028-04-25", "amount": {"amount": "1215000.00", "currency": "USD"},
    }

    assessment_ref: Reference
    challan_number: Reference
    """The bank challan (payment receipt) number."""
    paid_on: date
    amount: PositiveMoney


_LPCO_DECIDED = {LpcoStatus.APPROVED: "approved", LpcoStatus.REJECTED: "rejected",
                 LpcoStatus.CANCELLED: "cancelled"}
"""The LPCO statuses that decide it, as the ``decision`` glossary names them."""

def _order_says(data: ProtectionOrderIssued) -> dict[str, Param | PartyParam]:
    return {"epa": Emitter(), "order": Ident(data.order_ref),
            "what": Term("approval_kind", data.file_number[:3]), "ref": Ident(data.file_number),
            "proponent": Firm(data.proponent_uscc), "issued": Day(data.issued_on),
            "count": Number(len(data.directions)), "comply_by": Day(data.comply_by)}


def _order_details(data: ProtectionOrderIssued) -> dict[str, str]:
    return {"order_ref": data.order_ref, "comply_by": data.comply_by.isoformat(),
            "stop_work": "yes" if data.stop_work else "no"}


PROTECTION_ORDER = EventAlert(
    "protection_order", Severity.WARNING,
    Texts(en="{epa} issued environmental protection order {order} on {what} {ref} of "
             "{proponent} on {issued} (directions to comply with: {count}). Comply by "
             "{comply_by}.",
          zh="{epa}于{issued}就{proponent}的{what} {ref} 发出环境保护令 {order}"
             "（需遵守的指令：{count}项）。请于{comply_by}前完成整改。",  # noqa: RUF001
          ur="{epa} نے {issued} کو {proponent} کے {what} {ref} پر ماحولیاتی تحفظ کا حکم "
             "{order} جاری کیا (قابلِ تعمیل ہدایات: {count})۔ {comply_by} تک تعمیل کریں۔"),  # noqa: RUF001
    (party("proponent_uscc"),), says=_order_says, due=lambda d: d.comply_by,
    details=_order_details, when=lambda d: not d.stop_work,
)
"""An environmental protection order → the proponent, with its comply-by date."""

STOP_WORK_ORDER = EventAlert(
    "stop_work_order", Severity.CRITICAL,
    Texts(en="{epa} ordered {proponent} to stop work under {what} {ref} by environmental "
             "protection order {order} of {issued} (directions to comply with: {count}). Work "
             "resumes only once the order is complied with; comply by {comply_by}.",
          zh="{epa}于{issued}发出环境保护令 {order}，责令{proponent}停止{what} {ref} "  # noqa: RUF001
             "项下的作业（需遵守的指令：{count}项）。须遵守该命令后方可复工；"  # noqa: RUF001
             "请于{comply_by}前完成整改。",
          ur="{epa} نے {issued} کے ماحولیاتی تحفظ کے حکم {order} کے ذریعے {proponent} کو "
             "{what} {ref} کے تحت کام روکنے کا حکم دیا (قابلِ تعمیل ہدایات: {count})۔ حکم کی "  # noqa: RUF001
             "تعمیل کے بعد ہی کام دوبارہ شروع ہو سکتا ہے؛ {comply_by} تک تعمیل کریں۔"),  # noqa: RUF001
    (party("proponent_uscc"),), says=_order_says, due=lambda d: d.comply_by,
    details=_order_details, when=lambda d: d.stop_work,
)
"""A stop-work order → the proponent: its operations under the approval halt."""

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(EnvironmentalApprovalFiled, firm("project proponent (firm)"),
              (ENVIRONMENTAL, step({None}, "filed", "opens the file"))),
    EventSpec(EnvironmentalApprovalDecided, agency("provincial EPA"),
              (ENVIRONMENTAL, named(
                  "decision", {d: {"filed"} for d in ENV_DECISIONS},
                  "the ``decision``: approved, approved with conditions, rejected or deemed "
                  "approved by law; decided once")),
              detail=lambda d: words(d.decision.value),
              alerts=(decided(lambda d: EnvironmentalDecision(d.decision).value,
                              lambda d: d.decided_on, party_field="proponent_uscc",
                              what=lambda d: Term("approval_kind", d.file_number[:3])),)),
    EventSpec(ProtectionOrderIssued, agency("provincial EPA"),
              (ENVIRONMENTAL, step(APPROVED, None, "on an approval in force; it keeps the status "
                                                   "(the order is complied with, or the approval "
                                                   "decided anew)")),
              detail=lambda d: f"{'stop work, ' if d.stop_work else ''}comply by {d.comply_by}",
              alerts=(PROTECTION_ORDER, STOP_WORK_ORDER)),
    EventSpec(ExportApprovalDecided, agency("LPCO-issuing agency (via PSW)"),
              (EXPORT, named(
                  "status",
                  {**{s: {None, *LPCO_OPEN} for s in (*LPCO_WORK, "approved", "rejected")},
                   "amended": {"approved", "amended"}, "cancelled": {"approved", "amended"}},
                  "the ``status`` it names: worked on (submitted, documents or inspection "
                  "called) until approved or rejected; an approved LPCO may then only be "
                  "amended or cancelled; rejected and cancelled are final")),
              detail=lambda d: words(d.status.value),
              alerts=(decided(lambda d: _LPCO_DECIDED[d.status],
                              lambda d: d.decided_at.astimezone(PAKISTAN_TIME).date(),
                              party_field="exporter_uscc",
                              what=lambda d: Term("approval_kind", d.lpco_type.value),
                              authority=lambda d: Org(d.issuing_agency),
                              when=lambda d: d.status in _LPCO_DECIDED),)),
    EventSpec(RoyaltyAssessed, AUTHORITY,
              (TITLE_LIFECYCLE, step(ROYALTY_AFTER, None,
                                     "on production while the title was in force")),
              detail=lambda d: f"{d.amount.amount} {d.amount.currency.value} due {d.due_on}"),
    EventSpec(RoyaltyPaid, firm("title holder"), (TITLE_LIFECYCLE, step(ROYALTY_AFTER, None))),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
