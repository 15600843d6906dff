"""Licence applications, from receipt to grant or refusal (the start of every title's history).

A title's events are keyed by its title number, which the licensing authority assigns when it
receives the application and keeps for the title's whole life (as mining cadastres do), so the
application, the grant and everything after stay in order on one partition. A conversion
(PL/EL → ML) is the one event that names a second title number: the lease's history continues
under the new number.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Annotated, Any, ClassVar, Self

from pydantic import model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.common import Frozen, Names, Province, TitleType, UtcDatetime
from schemas.enums import Severity
from schemas.events.decisions import decided
from schemas.events.examples import BA_MMDD, LOCAL_NTN, OPERATOR, REPRESENTATIVE_CNIC, TITLE
from schemas.events.spec import (
    PERSONAL,
    EventAlert,
    EventSpec,
    Texts,
    agency,
    either,
    firm,
    party,
)
from schemas.identifiers import (
    CNIC,
    NTN,
    USCC,
    OrgId,
    ProjectId,
    Reference,
    TitleNumber,
    province_of_project,
    province_of_title,
    title_type_of,
)
from schemas.lifecycle_steps import APPLYING, step
from schemas.lifecycle_steps import TITLE as LIFECYCLE
from schemas.measures import AreaKm2, Boundary, Items, Label, Minerals, TermYears, Text
from schemas.messages import Day, Emitter, Ident, Number
from schemas.topics import APPROVALS


class TitleEvent(EventData):
    """Base of the licence family: keyed by title number, about the applicant or holder firm."""

    TOPIC: ClassVar[str] = APPROVALS
    SUBJECT_FIELD: ClassVar[str] = "title_number"

    title_number: TitleNumber
    holder_uscc: USCC
    """The Chinese enterprise applying for or holding the title (its USCC)."""

    def scope(self) -> Scope:
        return Scope(province=province_of_title(self.title_number),
                     title_type=title_type_of(self.title_number),
                     parties=frozenset({self.holder_uscc}))


class Condition(Frozen):
    """A condition attached to a title or approval, with its due date when it has one."""

    text: Text
    due_on: date | None = None


Conditions = Annotated[tuple[Condition, ...], Items(0, 100)]
Reasons = Annotated[tuple[Text, ...], Items(1, 50)]


def add_years(start: date, years: int) -> date:
    """The same day ``years`` later; 29 February becomes 28 February in a common year."""
    year = start.year + years
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return start.replace(year=year, day=day)


def check_term(start: date, term_years: int, expires_on: date) -> None:
    """A term ends on its anniversary or the day before (both conventions are in use)."""
    anniversary = add_years(start, term_years)
    if expires_on not in {anniversary, anniversary - timedelta(days=1)}:
        fail("term_expiry", "expires_on {expires_on} does not end a {term} year term starting "
             "{start}", expires_on=expires_on.isoformat(), term=term_years,
             start=start.isoformat())


class Applicant(Frozen):
    """Who applies, beyond the parent's USCC: the local company and its representative."""

    name: Names
    ntn: NTN | None = None
    representative_cnic: CNIC | None = None


class LicenceApplicationReceived(TitleEvent):
    """The licensing authority received an application; ``received_at`` ranks competitors."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.application.received"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "title_type": "EL", "province": "PK-BA",
        "district": "Chagai", "minerals": ["copper", "gold"], "area_km2": "48.2500",
        "boundary": [{"lat": "29.0100000", "lon": "61.8000000"},
                     {"lat": "29.0100000", "lon": "61.8700000"},
                     {"lat": "29.0600000", "lon": "61.8700000"},
                     {"lat": "29.0600000", "lon": "61.8000000"},
                     {"lat": "29.0100000", "lon": "61.8000000"}],
        "applicant": {"name": {"en": "Example Mining Pakistan (Pvt) Ltd",
                               "zh": "示例矿业巴基斯坦有限公司"},
                      "ntn": LOCAL_NTN, "representative_cnic": REPRESENTATIVE_CNIC},
        "received_at": "2025-11-03T05:12:40Z", "licensing_authority": BA_MMDD,
        "project_id": "PRJ-BA-CHG-0007", "application_ref": "MMDD/BA/EL/2025/0412",
    }

    title_type: TitleType
    province: Province
    district: Label
    minerals: Minerals
    area_km2: AreaKm2
    boundary: Boundary
    applicant: Applicant
    received_at: UtcDatetime
    licensing_authority: OrgId
    project_id: ProjectId | None = None
    application_ref: Reference | None = None
    """The application's own reference: the authority's file or diary number, or the number
    its online portal gave the applicant (``MMDD/BA/2026/0042``). Keys stay by title number,
    which the authority assigns on receipt; the views find a file by either."""

    @model_validator(mode="after")
    def _matches_title_number(self) -> Self:
        if title_type_of(self.title_number) is not self.title_type:
            fail("title_type_mismatch", "title_type {title_type} differs from the title number's",
                 title_type=self.title_type.value)
        if province_of_title(self.title_number) is not self.province:
            fail("title_province_mismatch", "province {province} differs from the title "
                 "number's", province=self.province.value)
        if self.project_id and province_of_project(self.project_id) is not self.province:
            fail("project_province_mismatch", "project {project} is not in {province}",
                 project=self.project_id, province=self.province.value)
        return self

    def scope(self) -> Scope:
        return Scope(province=self.province, title_type=self.title_type,
                     parties=frozenset({self.holder_uscc}))


class ApplicationAcknowledged(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.application.acknowledged"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR,
        "acknowledged_at": "2025-11-04T07:00:00Z", "decision_due_on": "2026-02-02",
    }

    acknowledged_at: UtcDatetime
    decision_due_on: date | None = None


class DeficiencyNotified(TitleEvent):
    """The authority found the application incomplete; the applicant must answer by a date."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.deficiency.notified"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "notice_ref": "MMDD-DN-2025-211",
        "notified_on": "2025-11-20", "respond_by": "2025-12-20",
        "items": ["Work programme lacks a year-2 drilling budget",
                  "Attested copy of SECP incorporation certificate missing"],
    }

    notice_ref: Reference
    notified_on: date
    respond_by: date
    items: Reasons

    @model_validator(mode="after")
    def _respond_after_notice(self) -> Self:
        if self.respond_by <= self.notified_on:
            fail("respond_by_order", "respond_by must be after notified_on")
        return self


class ApplicationResubmitted(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.application.resubmitted"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "notice_ref": "MMDD-DN-2025-211",
        "resubmitted_at": "2025-12-15T09:30:00Z",
        "note": "Revised work programme and attested certificate attached",
    }

    notice_ref: Reference
    """The deficiency notice this resubmission answers."""
    resubmitted_at: UtcDatetime
    note: Text | None = None


class ApplicationWithdrawn(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.application.withdrawn"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "withdrawn_on": "2026-01-10",
        "reason": "Area overlaps a protected forest",
    }

    withdrawn_on: date
    reason: Text | None = None


class LicenceGranted(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.granted"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "granted_on": "2026-02-01",
        "term_years": 3, "expires_on": "2029-01-31", "area_km2": "48.2500",
        "minerals": ["copper", "gold"],
        "conditions": [{"text": "Commence work on the ground", "due_on": "2026-08-01"},
                       {"text": "File the annual work report", "due_on": "2027-01-31"}],
    }

    granted_on: date
    term_years: TermYears
    expires_on: date
    area_km2: AreaKm2
    minerals: Minerals
    conditions: Conditions = ()
    appeal_reference: Reference | None = None
    """Set when the grant follows a successful appeal against a refusal."""
    project_id: ProjectId | None = None
    """The project the title serves, when the application did not name it (a title granted
    before the bus, or a project registered after the application)."""

    @model_validator(mode="after")
    def _term(self) -> Self:
        check_term(self.granted_on, self.term_years, self.expires_on)
        if self.project_id and (province_of_project(self.project_id)
                                is not province_of_title(self.title_number)):
            fail("project_province_mismatch", "project {project} is not in the title's "
                 "province", project=self.project_id)
        return self


class LicenceRefused(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.refused"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "refused_on": "2026-02-01",
        "reasons": ["Area already under a prior application received earlier"],
        "appealable_until": "2026-03-03",
    }

    refused_on: date
    reasons: Reasons
    appealable_until: date | None = None


AUTHORITY = agency("provincial licensing authority")
APPLICANT = firm("applicant firm")

DEFICIENCY_NOTIFIED = EventAlert(
    "deficiency_notified", Severity.WARNING,
    Texts(en="{authority} found application {ref} incomplete (notice {notice}, items to address: "
             "{count}). Respond by {respond_by}.",
          zh="{authority}认定申请 {ref} 材料不全（通知 {notice}，需补正事项：{count}）。"  # noqa: RUF001
             "请于{respond_by}前答复。",
          ur="{authority} نے درخواست {ref} کو نامکمل قرار دیا (نوٹس {notice}، قابلِ اصلاح نکات: "
             "{count})۔ {respond_by} تک جواب دیں۔"),  # noqa: RUF001
    (party("holder_uscc"),),
    says=lambda d: {"authority": Emitter(), "ref": Ident(d.title_number),
                    "notice": Ident(d.notice_ref), "count": Number(len(d.items)),
                    "respond_by": Day(d.respond_by)},
    due=lambda d: d.respond_by,
    details=lambda d: {"notice_ref": d.notice_ref, "respond_by": d.respond_by.isoformat()},
)
"""A deficiency notice → the applicant, with its respond-by date."""

EVENTS: tuple[EventSpec, ...] = (
    EventSpec(LicenceApplicationReceived,
              either("applicant firm, or the provincial licensing authority on receipt"),
              (LIFECYCLE, step({None}, "received", "opens the file")),
              detail=lambda d: f"{d.title_type.value} in {d.district}, {d.area_km2} km²",
              restricted={"applicant.ntn": PERSONAL, "applicant.representative_cnic": PERSONAL}),
    EventSpec(ApplicationAcknowledged, AUTHORITY,
              (LIFECYCLE, step({"received", "resubmitted"}, "acknowledged"))),
    EventSpec(DeficiencyNotified, AUTHORITY,
              (LIFECYCLE, step({"received", "acknowledged", "resubmitted"}, "deficient")),
              detail=lambda d: f"{len(d.items)} item(s), respond by {d.respond_by}",
              alerts=(DEFICIENCY_NOTIFIED,)),
    EventSpec(ApplicationResubmitted, APPLICANT,
              (LIFECYCLE, step({"deficient"}, "resubmitted", "answers the deficiency notice"))),
    EventSpec(ApplicationWithdrawn, APPLICANT,
              (LIFECYCLE, step(APPLYING, "withdrawn", "only while undecided"))),
    EventSpec(LicenceGranted, AUTHORITY,
              (LIFECYCLE, step({None, "received", "acknowledged", "resubmitted"}, "granted",
                               "not while a deficiency is unanswered, never after a withdrawal "
                               "or a refusal; on a new file it records a title granted before "
                               "the bus (its history starts there)")),
              detail=lambda d: f"{d.term_years} years, expires {d.expires_on}",
              alerts=(decided(lambda _: "granted", lambda d: d.granted_on,
                              party_field="holder_uscc"),)),
    EventSpec(LicenceRefused, AUTHORITY, (LIFECYCLE, step(APPLYING, "refused")),
              detail=lambda d: d.reasons[0],
              alerts=(decided(lambda _: "refused", lambda d: d.refused_on,
                              party_field="holder_uscc", act_by=lambda d: d.appealable_until),)),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
