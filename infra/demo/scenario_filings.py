"""Filings beside the titles: environmental approvals before the provincial EPAs, and royalty.

One EIA is left undecided on purpose: four months after it was complete it is deemed approved by
law, which the platform's timers (not an event) must notice.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from consumers.views.models import ApprovalKind
from consumers.views.models import ApprovalStatus as S
from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder
from infra.demo.scenario_facts import DeemedApproval, PendingApproval
from schemas.common import Currency, Money
from schemas.events.approvals_applications import Condition, add_years
from schemas.events.approvals_other import (
    DEEMED_APPROVAL_MONTHS,
    AssessmentKind,
    EnvironmentalApprovalDecided,
    EnvironmentalApprovalFiled,
    EnvironmentalDecision,
    RoyaltyAssessed,
    RoyaltyPaid,
    add_months,
)

EIA, IEE = AssessmentKind.EIA, AssessmentKind.IEE
D = EnvironmentalDecision


def month_label(b: Builder, offset: int) -> str:
    """``YYYY-MM`` of the month ``offset`` months from the year's first."""
    return f"{add_months(b.date_of(b.origin).replace(day=1), offset):%Y-%m}"


def file_environmental(b: Builder, site: w.Site, kind: AssessmentKind, filed_day: float,
                       complete_day: float, title: str | None = None) -> tuple[str, date]:
    """Filed, then accepted as complete: the filing event is published once it is complete."""
    filed_on = b.date_of(b.at(filed_day))
    code = site.province.value[3:]
    counter = f"{kind.value}-{code}-{filed_on.year}"
    number = f"{counter}-{b.serial(counter, 41):04d}"
    moment = b.office(complete_day)
    b.emit(site.firm.org, EnvironmentalApprovalFiled(
        file_number=number, proponent_uscc=site.firm.uscc, assessment=kind,
        province=site.province, epa=w.EPA[site.province], project_id=site.project_id,
        title_number=title, filed_on=filed_on, complete_on=b.date_of(moment)), moment)
    b.facts.environmental[number] = S.FILED
    return number, b.date_of(moment)


def decide_environmental(b: Builder, site: w.Site, number: str, day: float,
                         decision: EnvironmentalDecision, *, conditions: tuple[str, ...] = (),
                         reasons: tuple[str, ...] = ()) -> None:
    moment = b.office(day)
    on = b.date_of(moment)
    valid = None if decision is D.REJECTED else add_years(on, 3) - timedelta(days=1)
    b.emit(w.EPA[site.province], EnvironmentalApprovalDecided(
        file_number=number, proponent_uscc=site.firm.uscc, decision=decision, decided_on=on,
        conditions=tuple(Condition(text=text, due_on=on + timedelta(days=90 * (i + 1)))
                         for i, text in enumerate(conditions)),
        reasons=reasons, valid_until=valid), moment)
    b.facts.environmental[number] = S(decision.value)


def undecided(b: Builder, site: w.Site, number: str, complete_on: date) -> date:
    """Record a filing the EPA leaves undecided: pending, with its deemed-approval date."""
    deemed = add_months(complete_on, DEEMED_APPROVAL_MONTHS)
    b.facts.pending[number] = PendingApproval(
        number, ApprovalKind.ENVIRONMENTAL, S.FILED, site.firm.uscc, w.EPA[site.province],
        "deemed_approval_on", deemed)
    return deemed


def environmental_year(b: Builder, sites: dict[str, w.Site], titles: dict[str, str]) -> None:
    """Nine filings before the five provinces' EPAs: approvals, a rejection, one left silent."""
    j = b.jitter
    site = sites["chagai-hills"]
    number, _ = file_environmental(b, site, EIA, 10 + j(2), 30 + j(2), titles.get(site.key))
    decide_environmental(b, site, number, 128 + j(3), D.APPROVED_WITH_CONDITIONS, conditions=(
        "Quarterly groundwater monitoring at the six wells of the Humai aquifer",
        "Community water supply scheme for the villages along the haul road"))
    site = sites["saindak-south"]
    number, _ = file_environmental(b, site, IEE, 75 + j(2), 80 + j(2), titles.get(site.key))
    decide_environmental(b, site, number, 150 + j(3), D.APPROVED)
    site = sites["thar-south"]
    number, complete = file_environmental(b, site, EIA, 40 + j(2), 70 + j(2), titles.get(site.key))
    deemed = undecided(b, site, number, complete)
    if deemed >= b.date_of(b.end):
        raise ValueError("the deemed approval must fall within the year")
    b.facts.deemed = DeemedApproval(number, w.EPA[site.province], site.firm.uscc, complete,
                                    deemed)
    site = sites["thar-north"]
    number, _ = file_environmental(b, site, IEE, 150 + j(2), 160 + j(2), titles.get(site.key))
    decide_environmental(b, site, number, 240 + j(3), D.APPROVED_WITH_CONDITIONS, conditions=(
        "Line the extended ash pond with an HDPE membrane before first use",))
    site = sites["hazara-ree"]
    number, _ = file_environmental(b, site, IEE, 190 + j(2), 200 + j(2))
    decide_environmental(b, site, number, 255 + j(3), D.REJECTED, reasons=(
        "No baseline survey of the radioactivity of the host rocks",
        "Waste rock disposal site lies within 200 m of a stream"))
    number, complete = file_environmental(b, site, IEE, 300 + j(2), 320 + j(2))
    undecided(b, site, number, complete)
    site = sites["chiniot"]
    number, _ = file_environmental(b, site, EIA, 95 + j(2), 110 + j(2), titles.get(site.key))
    decide_environmental(b, site, number, 230 + j(3), D.APPROVED_WITH_CONDITIONS, conditions=(
        "Dewatering plan agreed with the Irrigation Department before the box cut",))
    site = sites["shigar"]
    number, _ = file_environmental(b, site, IEE, 45 + j(2), 60 + j(2))
    decide_environmental(b, site, number, 140 + j(3), D.APPROVED)
    site = sites["duddar-east"]
    number, complete = file_environmental(b, site, EIA, 290 + j(2), 305 + j(2),
                                          titles.get(site.key))
    undecided(b, site, number, complete)


@dataclass(frozen=True, slots=True)
class Assessment:
    ref: str
    due_on: date
    amount: Money


def assess_royalty(b: Builder, title: str, site: w.Site, day: float, quantity: Decimal, *,
                   period: str) -> Assessment:
    spec = site.production
    assert spec is not None
    moment = b.office(day)
    on = b.date_of(moment)
    counter = f"ROY-{title[:2]}-{on.year}"
    ref = f"{counter}-{b.serial(counter, 301):04d}"
    rate = Decimal(str(spec.royalty_pct))
    amount = Money(amount=(quantity * spec.value_pkr_per_t * rate / 100).quantize(Decimal("0.01")),
                   currency=Currency.PKR)
    due = on + timedelta(days=30)
    b.emit(w.LICENSING[site.province], RoyaltyAssessed(
        title_number=title, holder_uscc=site.firm.uscc, assessment_ref=ref, period=period,
        mineral=spec.royalty_mineral, quantity_t=quantity, rate_pct=rate, amount=amount,
        due_on=due), moment)
    return Assessment(ref, due, amount)


def pay_royalty(b: Builder, title: str, site: w.Site, assessment: Assessment, day: float) -> None:
    moment = b.office(day)
    step = b.emit(site.firm.org, RoyaltyPaid(
        title_number=title, holder_uscc=site.firm.uscc, assessment_ref=assessment.ref,
        challan_number=f"CH-{b.date_of(moment).year}-{b.rng.randint(100_000, 999_999)}",
        paid_on=b.date_of(moment), amount=assessment.amount), moment)
    if b.facts.anchors.royalty_payment is None:
        b.facts.anchors.royalty_payment = step.event_id


def royalty_year(b: Builder, site: w.Site, title: str) -> None:
    """Each quarter's production assessed three weeks after its last month, paid within a month."""
    output = b.facts.output.get(site.project_id, {})
    quarters: dict[str, list[Decimal]] = {}
    for period, dmt in output.items():
        year, month = (int(x) for x in period.split("-"))
        quarters.setdefault(f"{year}-{(month - 1) // 3 * 3 + 3:02d}", []).append(dmt)
    start = b.date_of(b.origin)
    for period, amounts in sorted(quarters.items()):
        year, month = (int(x) for x in period.split("-"))
        if period not in output:
            continue  # the quarter's last month is not reported within the year
        month_end = date(year, month, calendar.monthrange(year, month)[1])
        day = (month_end - start).days + 20 + b.rng.randint(0, 5)
        if day >= 330:  # noqa: PLR2004 - assessed too late to be paid within the year
            continue
        assessment = assess_royalty(b, title, site, day, sum(amounts, Decimal(0)), period=period)
        pay_royalty(b, title, site, assessment, day + b.rng.randint(12, 26))
