"""Events of a granted title: amendment, renewal, conversion, transfer, enforcement and its end."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import model_validator

from schemas.base import Scope
from schemas.codes import fail
from schemas.common import Names, TitleType, UtcDatetime
from schemas.events.approvals_applications import (
    AUTHORITY,
    Conditions,
    Reasons,
    TitleEvent,
    check_term,
)
from schemas.events.decisions import decided
from schemas.events.examples import OPERATOR, PARTNER, TITLE
from schemas.events.spec import EventSpec, either, firm
from schemas.identifiers import (
    USCC,
    Reference,
    TitleNumber,
    province_of_title,
    title_type_of,
)
from schemas.lifecycle_steps import IN_FORCE, Step, step
from schemas.lifecycle_steps import TITLE as LIFECYCLE
from schemas.measures import AreaKm2, Boundary, Minerals, TermYears, Text

CONVERTIBLE = frozenset({TitleType.EXPLORATION_LICENCE, TitleType.PROSPECTING_LICENCE,
                         TitleType.MINERAL_DEPOSIT_RETENTION_LICENCE})
LEASES = frozenset({TitleType.MINING_LEASE, TitleType.SMALL_SCALE_MINING_LEASE})


class WorkCommenced(TitleEvent):
    """Work on the ground began under the title: the six-month commencement obligation is met."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.work.commenced"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "commenced_on": "2026-06-15",
        "description": "Mapping and trenching crews mobilised to the eastern blocks",
        "evidence_ref": "MMDD-INSP-2026-044",
    }

    commenced_on: date
    description: Text | None = None
    evidence_ref: Reference | None = None
    """An inspection report, a work-start notice or similar, when there is one."""


class LicenceAmended(TitleEvent):
    """Some terms of the title changed; the fields given are the new values."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.amended"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "amended_on": "2026-09-01",
        "description": "Molybdenum added to the licensed minerals",
        "minerals": ["copper", "gold", "molybdenum"],
    }

    amended_on: date
    description: Text
    area_km2: AreaKm2 | None = None
    boundary: Boundary | None = None
    minerals: Minerals | None = None
    conditions: Conditions | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if (self.area_km2, self.boundary, self.minerals, self.conditions) == (None,) * 4:
            fail("amendment_empty", "an amendment gives at least one new value: area_km2, "
                 "boundary, minerals or conditions")
        return self


class LicenceConverted(TitleEvent):
    """A licence became a lease (PL/EL/MDRL → ML/SSML); the lease continues under a new number."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.converted"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "new_title_number": "BA-ML-2028-0012",
        "converted_on": "2028-01-15", "term_years": 30, "expires_on": "2058-01-14",
    }

    new_title_number: TitleNumber
    converted_on: date
    term_years: TermYears
    expires_on: date

    @model_validator(mode="after")
    def _licence_to_lease(self) -> Self:
        if title_type_of(self.title_number) not in CONVERTIBLE:
            fail("conversion_from", "only an EL, PL or MDRL converts to a lease")
        if title_type_of(self.new_title_number) not in LEASES:
            fail("conversion_to", "a conversion yields an ML or SSML title number")
        if province_of_title(self.new_title_number) is not province_of_title(self.title_number):
            fail("conversion_province", "the lease stays in the licence's province")
        check_term(self.converted_on, self.term_years, self.expires_on)
        return self


class RenewalApplied(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.renewal.applied"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "applied_at": "2028-10-20T06:00:00Z",
        "requested_term_years": 3,
    }

    applied_at: UtcDatetime
    requested_term_years: TermYears


class LicenceRenewed(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.renewed"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "renewed_on": "2029-02-01",
        "term_years": 3, "expires_on": "2032-01-31",
    }

    renewed_on: date
    term_years: TermYears
    expires_on: date

    @model_validator(mode="after")
    def _term(self) -> Self:
        check_term(self.renewed_on, self.term_years, self.expires_on)
        return self


class RenewalRefused(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.renewal.refused"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "refused_on": "2029-01-20",
        "reasons": ["Minimum expenditure obligations of the current term not met"],
    }

    refused_on: date
    reasons: Reasons


class LicenceAssigned(TitleEvent):
    """The title passed to another firm; later events carry the assignee as ``holder_uscc``."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.assigned"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "assignee_uscc": PARTNER,
        "assignee_name": {"en": "Shanghai Example Resources Co., Ltd.",
                          "zh": "上海示例资源有限公司"},
        "assigned_on": "2027-05-01", "approval_ref": "MMDD-ASG-2027-004",
    }

    assignee_uscc: USCC
    assignee_name: Names
    assigned_on: date
    approval_ref: Reference | None = None

    @model_validator(mode="after")
    def _to_someone_else(self) -> Self:
        if self.assignee_uscc == self.holder_uscc:
            fail("assignment_to_self", "the assignee is already the holder")
        return self

    def scope(self) -> Scope:
        return Scope(province=province_of_title(self.title_number),
                     title_type=title_type_of(self.title_number),
                     parties=frozenset({self.holder_uscc, self.assignee_uscc}))


class ShowCauseIssued(TitleEvent):
    """The holder is asked why the title should not be suspended or cancelled."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.showcause.issued"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "notice_ref": "MMDD-SC-2027-019",
        "issued_on": "2027-03-01", "reply_by": "2027-03-31",
        "grounds": ["Work not commenced within six months of grant"],
    }

    notice_ref: Reference
    issued_on: date
    reply_by: date
    grounds: Reasons

    @model_validator(mode="after")
    def _reply_after_issue(self) -> Self:
        if self.reply_by <= self.issued_on:
            fail("reply_by_order", "reply_by must be after issued_on")
        return self


class LicenceSuspended(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.suspended"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "suspended_on": "2027-04-15",
        "show_cause_ref": "MMDD-SC-2027-019", "reasons": ["No satisfactory reply to show-cause"],
    }

    suspended_on: date
    show_cause_ref: Reference
    reasons: Reasons
    until: date | None = None


class LicenceCancelled(TitleEvent):
    """Cancelled after a hearing: without a hearing reference a cancellation is not valid."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.cancelled"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "cancelled_on": "2027-06-30",
        "hearing_reference": "MMDD-HRG-2027-007", "hearing_held_on": "2027-06-10",
        "reasons": ["Work not commenced; suspension period lapsed"],
        "appealable_until": "2027-07-30",
    }

    cancelled_on: date
    hearing_reference: Reference
    hearing_held_on: date
    reasons: Reasons
    appealable_until: date | None = None

    @model_validator(mode="after")
    def _hearing_first(self) -> Self:
        if self.hearing_held_on > self.cancelled_on:
            fail("hearing_order", "the hearing (hearing_held_on) comes before the cancellation")
        return self


class RestoredFrom(StrEnum):
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


class LicenceRestored(TitleEvent):
    """Back in force: reinstated after a suspension, or restored on appeal after cancellation."""

    TYPE: ClassVar[str] = "pk.emining.approval.licence.restored"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "restored_on": "2027-09-01",
        "restored_from": "cancelled", "appeal_reference": "APL-BA-2027-0031",
    }

    restored_on: date
    restored_from: RestoredFrom
    appeal_reference: Reference | None = None

    @model_validator(mode="after")
    def _appeal_for_cancellation(self) -> Self:
        if self.restored_from is RestoredFrom.CANCELLED and self.appeal_reference is None:
            fail("appeal_reference_missing", "restoring a cancelled title needs the "
                 "appeal_reference that ordered it")
        return self


class LicenceSurrendered(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.surrendered"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "surrendered_on": "2028-03-01",
        "surrendered_area_km2": "12.5000", "reason": "Relinquishment of the eastern blocks",
    }

    surrendered_on: date
    surrendered_area_km2: AreaKm2 | None = None
    """The part given up; absent when the whole title is surrendered."""
    reason: Text | None = None


class LicenceExpired(TitleEvent):
    TYPE: ClassVar[str] = "pk.emining.approval.licence.expired"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "title_number": TITLE, "holder_uscc": OPERATOR, "expired_on": "2029-01-31",
    }

    expired_on: date


HOLDER = firm("title holder")


EVENTS: tuple[EventSpec, ...] = (
    EventSpec(WorkCommenced, either("title holder, or the licensing authority (on inspection)"),
              (LIFECYCLE, step(IN_FORCE, None,
                               "work on the ground began (the six-month obligation after a "
                               "grant); only a title in force")),
              detail=lambda d: f"on {d.commenced_on}"),
    EventSpec(LicenceAmended, AUTHORITY,
              (LIFECYCLE, step({"granted", "show_cause", "suspended"}, None,
                               "area, minerals or conditions of a title in force"))),
    EventSpec(LicenceConverted, AUTHORITY, (LIFECYCLE, step({"granted"}, "converted")),
              detail=lambda d: f"now {d.new_title_number}"),
    EventSpec(RenewalApplied, HOLDER,
              (LIFECYCLE, step({"granted", "show_cause"}, "renewal_applied",
                               "only a granted title is renewed"))),
    EventSpec(LicenceRenewed, AUTHORITY, (LIFECYCLE, step({"renewal_applied"}, "granted")),
              detail=lambda d: f"expires {d.expires_on}",
              alerts=(decided(lambda _: "renewed", lambda d: d.renewed_on,
                              party_field="holder_uscc"),)),
    EventSpec(RenewalRefused, AUTHORITY,
              (LIFECYCLE, step({"renewal_applied"}, "renewal_refused")),
              alerts=(decided(lambda _: "renewal_refused", lambda d: d.refused_on,
                              party_field="holder_uscc"),)),
    EventSpec(LicenceAssigned, AUTHORITY,
              (LIFECYCLE, step({"granted"}, None, "to another holder"))),
    EventSpec(ShowCauseIssued, AUTHORITY, (LIFECYCLE, step({"granted"}, "show_cause")),
              detail=lambda d: f"reply by {d.reply_by}"),
    EventSpec(LicenceSuspended, AUTHORITY,
              (LIFECYCLE, step({"granted", "show_cause"}, "suspended")),
              alerts=(decided(lambda _: "suspended", lambda d: d.suspended_on,
                              party_field="holder_uscc"),)),
    EventSpec(LicenceCancelled, AUTHORITY,
              (LIFECYCLE, step({"granted", "show_cause", "suspended"}, "cancelled")),
              alerts=(decided(lambda _: "cancelled", lambda d: d.cancelled_on,
                              party_field="holder_uscc", act_by=lambda d: d.appealable_until),)),
    EventSpec(LicenceRestored, AUTHORITY,
              (LIFECYCLE, step({"suspended", "show_cause", "cancelled"}, "granted",
                               "after a suspension, a show-cause or an appeal")),
              alerts=(decided(lambda _: "restored", lambda d: d.restored_on,
                              party_field="holder_uscc"),)),
    EventSpec(LicenceSurrendered, HOLDER,
              (LIFECYCLE, Step(frozenset({"granted", "show_cause", "suspended"}), "surrendered",
                               "a partial surrender (``surrendered_area_km2``) keeps the title "
                               "in force", keeps="surrendered_area_km2"))),
    EventSpec(LicenceExpired, AUTHORITY, (LIFECYCLE, step(IN_FORCE, "expired"))),
)
"""The registry entries of this module's types (``schemas.events.registry`` gathers them)."""
