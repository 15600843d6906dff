"""The steps of a title's life, each told by the party the registry lets tell it.

The firm applies, answers deficiencies and asks for renewal; the licensing authority of the
title's province acknowledges, notifies, grants, renews, converts, and takes a lease from
show-cause through suspension and cancellation to its restoration on appeal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from consumers.views.models import ApprovalKind
from consumers.views.models import ApprovalStatus as S
from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder
from infra.demo.scenario_facts import PendingApproval
from infra.demo.scenario_filings import assess_royalty, month_label, pay_royalty
from infra.demo.scenario_projects import change_stage
from schemas.common import TitleType
from schemas.events.approvals_applications import (
    Applicant,
    ApplicationAcknowledged,
    ApplicationResubmitted,
    Condition,
    DeficiencyNotified,
    LicenceApplicationReceived,
    LicenceGranted,
    add_years,
)
from schemas.events.approvals_licences import (
    LicenceCancelled,
    LicenceConverted,
    LicenceRenewed,
    LicenceRestored,
    LicenceSuspended,
    RenewalApplied,
    RestoredFrom,
    ShowCauseIssued,
)
from schemas.events.projects import ProjectStage
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.measures import Point

OFFICE_CODE = {"BA": "MMDD", "SD": "SMMD", "KP": "KPMD", "PB": "PMMD", "GB": "GBMD"}
"""Prefixes of each licensing authority's notice numbers (illustrative)."""


@dataclass(frozen=True, slots=True)
class Title:
    """A title of the scenario: its number, holder site, area, and (if pre-platform) history."""

    number: str
    site: w.Site
    area: Decimal
    centre: tuple[float, float]
    received_at: datetime | None = None
    granted_on: date | None = None
    term: int = 0

    @property
    def province_code(self) -> str:
        return self.number[:2]

    @property
    def authority(self) -> str:
        return w.LICENSING[self.site.province]

    @property
    def holder(self) -> str:
        return self.site.firm.uscc

    @property
    def firm(self) -> str:
        return self.site.firm.org

    def ref(self, b: Builder, kind: str, moment: datetime) -> str:
        """A notice number of the title's authority: MMDD-DN-2025-014."""
        year = b.date_of(moment).year
        code = OFFICE_CODE[self.province_code]
        return f"{code}-{kind}-{year}-{b.serial(f'{code}-{kind}-{year}', 11):03d}"


def title_number(b: Builder, site: w.Site, kind: TitleType, year: int) -> str:
    code = site.province.value[3:]
    return f"{code}-{kind.value}-{year}-{b.serial(f'{code}-{kind.value}-{year}', 201):04d}"


def boundary(centre: tuple[float, float], area_km2: Decimal) -> tuple[Point, ...]:
    """A square of the given area around ``centre``, as a closed WGS 84 ring."""
    lat, lon = centre
    half = math.sqrt(float(area_km2)) / 2
    dlat, dlon = half / 111.0, half / (111.0 * math.cos(math.radians(lat)))
    corners = ((lat - dlat, lon - dlon), (lat - dlat, lon + dlon), (lat + dlat, lon + dlon),
               (lat + dlat, lon - dlon), (lat - dlat, lon - dlon))
    return tuple(Point(lat=Decimal(f"{a:.7f}"), lon=Decimal(f"{o:.7f}")) for a, o in corners)


def new_title(b: Builder, site: w.Site, day: float, kind: TitleType, *, area: float | None = None,
              shift: float = 0.0) -> Title:
    year = b.date_of(b.at(day)).year
    lat, lon = site.centre
    return Title(title_number(b, site, kind, year), site,
                 Decimal(f"{area or site.area_km2:.4f}"), (lat + shift, lon + shift))


def receive(b: Builder, t: Title, moment: datetime, received_at: datetime | None = None) -> None:
    site = t.site
    office = t.authority.rsplit(":", 1)[1].upper()  # BA-MMDD: the authority's diary
    year = b.date_of(received_at or moment).year
    diary = f"{office}/APP/{year}/{b.serial(f'{office}/APP/{year}', 101):04d}"
    b.emit(t.firm, LicenceApplicationReceived(
        title_number=t.number, holder_uscc=t.holder, title_type=TitleType(t.number.split("-")[1]),
        province=site.province, district=site.district, minerals=site.minerals,
        area_km2=t.area, boundary=boundary(t.centre, t.area),
        applicant=Applicant(name=site.firm.local, ntn=site.firm.ntn,
                            representative_cnic=b.cnic()),
        received_at=received_at or moment, licensing_authority=t.authority,
        project_id=site.project_id, application_ref=diary), moment)


def acknowledge(b: Builder, t: Title, day: float, due_days: int) -> date:
    moment = b.office(day)
    due = b.date_of(moment) + timedelta(days=due_days)
    b.emit(t.authority, ApplicationAcknowledged(
        title_number=t.number, holder_uscc=t.holder, acknowledged_at=moment,
        decision_due_on=due), moment)
    return due


def deficiency(b: Builder, t: Title, day: float, respond_days: int,
               items: tuple[str, ...]) -> tuple[str, date]:
    moment = b.office(day)
    notice, on = t.ref(b, "DN", moment), b.date_of(moment)
    respond_by = on + timedelta(days=respond_days)
    b.emit(t.authority, DeficiencyNotified(
        title_number=t.number, holder_uscc=t.holder, notice_ref=notice, notified_on=on,
        respond_by=respond_by, items=items), moment)
    return notice, respond_by


def resubmit(b: Builder, t: Title, day: float, notice: str, note: str) -> None:
    moment = b.office(day)
    b.emit(t.firm, ApplicationResubmitted(
        title_number=t.number, holder_uscc=t.holder, notice_ref=notice, resubmitted_at=moment,
        note=note), moment)


def grant(b: Builder, t: Title, moment: datetime, term: int, *, granted_on: date | None = None,
          conditions: tuple[Condition, ...] = ()) -> None:
    on = granted_on or b.date_of(moment)
    b.emit(t.authority, LicenceGranted(
        title_number=t.number, holder_uscc=t.holder, granted_on=on, term_years=term,
        expires_on=add_years(on, term) - timedelta(days=1), area_km2=t.area,
        minerals=t.site.minerals, conditions=conditions), moment)
    b.facts.titles[t.number] = S.GRANTED


def pending(b: Builder, t: Title, status: S, deadline: str, due: date) -> None:
    b.facts.titles[t.number] = status
    b.facts.pending[t.number] = PendingApproval(t.number, ApprovalKind.TITLE, status, t.holder,
                                                t.authority, deadline, due)


def lease(b: Builder, site: w.Site, years_ago: int, term: int,
          expires_day: float | None = None) -> Title:
    """A title granted before the platform existed: its history is loaded in the first week."""
    start = b.date_of(b.origin)
    if expires_day is None:
        granted = start - timedelta(days=365 * years_ago + b.rng.randint(-40, 40))
    else:
        granted = add_years(b.date_of(b.at(expires_day)) + timedelta(days=1), -term)
    received = datetime.combine(granted - timedelta(days=b.rng.randint(120, 300)),
                                datetime.min.time(), PAKISTAN_TIME) + timedelta(hours=11)
    t = title_number(b, site, site.title_type, received.year)
    return Title(t, site, Decimal(f"{site.area_km2:.4f}"), site.centre, received, granted, term)


def backfill(b: Builder, t: Title) -> None:
    assert t.received_at is not None
    assert t.granted_on is not None
    day = b.rng.randint(1, 5)
    receive(b, t, b.office(day), t.received_at)
    grant(b, t, b.office(day + b.rng.randint(2, 5)), t.term, granted_on=t.granted_on)


def renew(b: Builder, t: Title, applied_day: float, renewed_day: float, term: int) -> None:
    moment = b.office(applied_day)
    b.emit(t.firm, RenewalApplied(title_number=t.number, holder_uscc=t.holder,
                                  applied_at=moment, requested_term_years=term), moment)
    moment = b.office(renewed_day)
    on = b.date_of(moment)
    b.emit(t.authority, LicenceRenewed(
        title_number=t.number, holder_uscc=t.holder, renewed_on=on, term_years=term,
        expires_on=add_years(on, term) - timedelta(days=1)), moment)
    b.facts.titles[t.number] = S.GRANTED


def cancelled_and_restored(b: Builder, t: Title) -> None:
    """Unpaid royalty → show-cause → suspension → hearing and cancellation → restored on appeal."""
    site = t.site
    arrears = assess_royalty(b, t.number, site, 15 + b.jitter(2), Decimal("24310.000"),
                             period=month_label(b, -4))
    moment = b.office(70 + b.jitter(2))
    notice, issued = t.ref(b, "SC", moment), b.date_of(moment)
    b.emit(t.authority, ShowCauseIssued(
        title_number=t.number, holder_uscc=t.holder, notice_ref=notice, issued_on=issued,
        reply_by=issued + timedelta(days=21),
        grounds=((f"Royalty assessment {arrears.ref} unpaid since it fell due on "
                 f"{arrears.due_on.isoformat()}"),
                 "Benches of pit 2 left unsupported, as found by the Inspectorate of Mines")),
        moment)
    suspended = 100 + b.jitter(2)
    moment = b.office(suspended)
    b.emit(t.authority, LicenceSuspended(
        title_number=t.number, holder_uscc=t.holder, suspended_on=b.date_of(moment),
        show_cause_ref=notice, reasons=(("The reply to the show-cause notice left both grounds "
                                        "unanswered"),)), moment)
    change_stage(b, site, suspended + 1, ProjectStage.CARE_AND_MAINTENANCE,
                 "Mining lease suspended by the licensing authority")
    moment = b.office(135 + b.jitter(2))
    b.emit(t.authority, LicenceCancelled(
        title_number=t.number, holder_uscc=t.holder, cancelled_on=b.date_of(moment),
        hearing_reference=t.ref(b, "HRG", moment),
        hearing_held_on=b.date_of(moment) - timedelta(days=7),
        reasons=("Royalty arrears not cleared within the suspension period",),
        appealable_until=b.date_of(moment) + timedelta(days=30)), moment)
    restored = 195 + b.jitter(2)
    moment = b.office(restored)
    b.emit(t.authority, LicenceRestored(
        title_number=t.number, holder_uscc=t.holder, restored_on=b.date_of(moment),
        restored_from=RestoredFrom.CANCELLED,
        appeal_reference=f"APL-BA-{b.date_of(moment).year}-{b.serial('appeal', 7):04d}"), moment)
    pay_royalty(b, t.number, site, arrears, restored + 4)
    change_stage(b, site, restored + 10, ProjectStage.PRODUCTION,
                 "Lease restored on appeal; mining resumed in pit 1")
    b.facts.idle[site.project_id] = [(suspended, restored + 10)]
    b.facts.titles[t.number] = S.GRANTED
    b.facts.restored_on_appeal = t.number


def converted(b: Builder, t: Title, day: float) -> None:
    moment = b.office(day)
    on = b.date_of(moment)
    lease_number = title_number(b, t.site, TitleType.MINING_LEASE, on.year)
    b.emit(t.authority, LicenceConverted(
        title_number=t.number, holder_uscc=t.holder, new_title_number=lease_number,
        converted_on=on, term_years=30, expires_on=add_years(on, 30) - timedelta(days=1)),
        moment)
    b.facts.titles[t.number] = S.CONVERTED
    b.facts.conversions[t.number] = lease_number
