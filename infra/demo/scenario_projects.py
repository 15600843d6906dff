"""Project stories: registration, monthly returns, money, safety, stages and milestones."""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal

from infra.demo import scenario_world as w
from infra.demo.scenario_core import HTTP_ORGS, Builder
from schemas.common import Currency, Money
from schemas.events.projects import (
    Milestone,
    MilestoneReached,
    OwnershipChanged,
    ProjectRegistered,
    ProjectStage,
    ProjectStageChanged,
    Shareholder,
)
from schemas.events.projects_reports import (
    FundingSource,
    HSEIncidentReported,
    IncidentCategory,
    InvestmentCategory,
    InvestmentDisbursed,
    Output,
    ProductionReported,
    WorkforceReported,
)
from schemas.measures import Grade, Point


def joint_venture(site: w.Site, operator_pct: int, partner_pct: int) -> tuple[Shareholder, ...]:
    """The operator and, on CPEC projects, the province's holding company (a sole operator holds
    everything)."""
    partner = w.LOCAL_PARTNERS.get(site.province) if site.cpec else None
    if partner is None:
        return (Shareholder(name=site.firm.name, uscc=site.firm.uscc, share_pct=Decimal(100)),)
    name, ntn = partner
    return (Shareholder(name=site.firm.name, uscc=site.firm.uscc, share_pct=Decimal(operator_pct)),
            Shareholder(name=name, ntn=ntn, share_pct=Decimal(partner_pct)))


LAST_FILING_DAY = 362
"""Returns are filed on fixed days of the month; none falls in the year's last days."""


def register(b: Builder, site: w.Site, titles: tuple[str, ...]) -> None:
    """The operator puts its project on the register in the first week of the year."""
    data = ProjectRegistered(
        project_id=site.project_id, operator_uscc=site.firm.uscc, names=site.names,
        province=site.province, district=site.district, minerals=site.minerals, stage=site.stage,
        operator_name=site.firm.name, joint_venture=joint_venture(site, 75, 25),
        related_titles=titles, cpec=site.cpec)
    b.emit(site.firm.org, data, b.office(b.rng.randint(0, 4)))
    b.facts.stages[site.project_id] = site.stage


def change_stage(b: Builder, site: w.Site, day: float, to: ProjectStage, reason: str) -> None:
    moment = b.office(day)
    data = ProjectStageChanged(
        project_id=site.project_id, operator_uscc=site.firm.uscc,
        from_stage=b.facts.stages[site.project_id], to_stage=to, effective_on=b.date_of(moment),
        reason=reason)
    b.emit(site.firm.org, data, moment)
    b.facts.stages[site.project_id] = to


def milestone(b: Builder, site: w.Site, day: float, which: Milestone, note: str) -> None:
    moment = b.office(day)
    b.emit(site.firm.org, MilestoneReached(
        project_id=site.project_id, operator_uscc=site.firm.uscc, milestone=which,
        reached_on=b.date_of(moment), note=note), moment)


def months(b: Builder, site: w.Site) -> list[tuple[date, int]]:
    """The months whose returns fall due within the year, with the day each is filed."""
    first = b.date_of(b.origin).replace(day=1)
    out = []
    for offset in range(-2, 13):
        index = first.month - 1 + offset
        month = date(first.year + index // 12, index % 12 + 1, 1)
        day = filing_day(b, site, month)
        if 0 < day < LAST_FILING_DAY:
            out.append((month, day))
    return out


def filing_day(b: Builder, site: w.Site, month: date) -> int:
    """When the month's returns are filed: firms loading them from their ERP file on the 10th of
    the next month, those posting through the gateway on the 12th (within one office hour)."""
    days = calendar.monthrange(month.year, month.month)[1]
    day = 11 if site.firm.org in HTTP_ORGS else 9
    return (month - b.date_of(b.origin)).days + days + day


def producing(b: Builder, site: w.Site, month: date) -> bool:
    """Whether the site produced through ``month`` (not while idle, even for part of it)."""
    if site.production is None:
        return False
    first = (month - b.date_of(b.origin)).days
    last = first + calendar.monthrange(month.year, month.month)[1]
    return all(last <= start or first >= end for start, end in b.facts.idle.get(
        site.project_id, ()))


def monthly_returns(b: Builder, site: w.Site) -> None:
    """Workforce every month (quarterly in a small year); production while the site produces."""
    stride = 1 if b.scale >= 0.5 else 3  # noqa: PLR2004 - a small year reports quarterly
    pakistani, chinese, local = site.workforce
    for index, (month, day) in enumerate(months(b, site)):
        if index % stride:
            continue
        hour = 9 + b.rng.randrange(0, 50) / 60
        period = f"{month:%Y-%m}"
        if producing(b, site, month):
            production(b, site, period, b.at(day, hour))
        grow = 1 + 0.01 * index if site.stage is ProjectStage.CONSTRUCTION else 1
        pk = round(pakistani * grow * b.rng.uniform(0.96, 1.04))
        b.emit(site.firm.org, WorkforceReported(
            project_id=site.project_id, operator_uscc=site.firm.uscc, period=period,
            pakistani=pk, chinese=round(chinese * b.rng.uniform(0.94, 1.04)),
            local_hires=min(pk, round(local * grow * b.rng.uniform(0.96, 1.04)))),
            b.at(day, hour + 2 / 60))


def production(b: Builder, site: w.Site, period: str, moment: datetime) -> None:
    spec = site.production
    assert spec is not None
    factor = b.rng.uniform(0.9, 1.08)
    mined = Decimal(f"{spec.ore_t * factor:.3f}")
    milled = (mined * Decimal(f"{b.rng.uniform(0.95, 0.99):.4f}")).quantize(Decimal("0.001"))
    grades = tuple(Grade(element=e, value=b.between(lo, hi, 3), unit=unit)
                   for e, lo, hi, unit in spec.grades)
    outputs = tuple(Output(product=p, dmt=Decimal(f"{t * factor * b.rng.uniform(0.95, 1.05):.3f}"))
                    for p, t in spec.outputs)
    b.facts.output.setdefault(site.project_id, {})[period] = outputs[0].dmt
    b.emit(site.firm.org, ProductionReported(
        project_id=site.project_id, operator_uscc=site.firm.uscc, period=period,
        ore_mined_t=mined, ore_milled_t=milled if spec.milled else Decimal(0),
        head_grades=grades, outputs=outputs), moment)


INVESTMENT = {  # site → (category, USD millions low, high) per quarter
    "chagai-hills": (InvestmentCategory.CAPEX, 40, 80),
    "thar-south": (InvestmentCategory.CAPEX, 15, 30),
    "chiniot": (InvestmentCategory.CAPEX, 2, 6),
    "chagai-west": (InvestmentCategory.EXPLORATION, 0.4, 1.5),
    "shigar": (InvestmentCategory.EXPLORATION, 0.3, 1.2),
    "haramosh": (InvestmentCategory.EXPLORATION, 0.2, 0.6),
    "hazara-ree": (InvestmentCategory.EXPLORATION, 0.2, 0.8),
    "saindak-south": (InvestmentCategory.COMMUNITY, 0.1, 0.3),
}


def investments(b: Builder, site: w.Site) -> None:
    """A disbursement each quarter, reported a few weeks into the next."""
    spec = INVESTMENT.get(site.key)
    if spec is None:
        return
    category, low, high = spec
    for quarter in range(4):
        day = 80 + 91 * quarter + b.rng.randint(0, 10)
        moment = b.office(day)
        amount = Money(amount=b.between(low * 1e6, high * 1e6, 0) + Decimal("0.00"),
                       currency=Currency.USD)
        source = FundingSource.SHAREHOLDER_LOAN if category is InvestmentCategory.CAPEX else (
            FundingSource.EQUITY)
        b.emit(site.firm.org, InvestmentDisbursed(
            project_id=site.project_id, operator_uscc=site.firm.uscc,
            disbursed_on=b.date_of(moment), amount=amount, category=category, source=source,
            reference=f"INV-{site.serial:04d}-{b.date_of(moment):%Y}-{quarter + 1:02d}"),
            moment)


INCIDENTS = (  # site, day, category, injuries, description
    ("chagai-hills", 40, IncidentCategory.LOST_TIME_INJURY, 1,
     "Rigger's foot crushed while setting the mill shell on its bearings"),
    ("duddar-east", 95, IncidentCategory.LOST_TIME_INJURY, 1,
     "Loader operator injured when a rock fell from the stope back"),
    ("thar-north", 150, IncidentCategory.NEAR_MISS, 0,
     "Dragline bucket swung over the haul road with a bus on it"),
    ("saindak-south", 210, IncidentCategory.ENVIRONMENTAL_RELEASE, 0,
     "Seepage of process water at the toe of the tailings dam, contained within a day"),
    ("malakand", 280, IncidentCategory.MEDICAL_TREATMENT, 2,
     "Two miners treated for dust inhalation after a ventilation fan failed"),
)


def incidents(b: Builder, site: w.Site) -> None:
    for key, day, category, injuries, text in INCIDENTS:
        if key != site.key:
            continue
        when = b.at(day, b.rng.uniform(1, 23))
        lat, lon = site.centre
        b.emit(site.firm.org, HSEIncidentReported(
            project_id=site.project_id, operator_uscc=site.firm.uscc,
            incident_ref=f"HSE-{site.district_code}-{b.date_of(when):%Y}-{day:03d}",
            occurred_at=when, category=category, fatalities=0, injuries=injuries,
            description=text, location=Point(lat=Decimal(f"{lat:.7f}"), lon=Decimal(f"{lon:.7f}"))),
            b.office(day + 1))


def milestones_and_stages(b: Builder, site: w.Site) -> None:
    """The turning points of the year (the licence stories time the enforcement-driven ones)."""
    match site.key:
        case "chagai-hills":
            milestone(b, site, 175 + b.jitter(3), Milestone.FINANCIAL_CLOSE,
                      "Senior debt facilities signed with the lender group")
            ownership(b, site, 160 + b.jitter(3))
        case "thar-south":
            first_ore = 240 + b.jitter(4)
            b.facts.idle[site.project_id] = [(-400, first_ore)]
            milestone(b, site, first_ore, Milestone.FIRST_ORE, "First lignite hauled to stockpile")
            change_stage(b, site, first_ore + 5, ProjectStage.PRODUCTION,
                         "Mine handed over from the construction contractor")
        case "chiniot":
            milestone(b, site, 100 + b.jitter(4), Milestone.FEASIBILITY_COMPLETED,
                      "Bankable feasibility study delivered by the consultants")
            change_stage(b, site, 290 + b.jitter(4), ProjectStage.CONSTRUCTION,
                         "Mining lease and environmental approval in hand")
        case "shigar":
            change_stage(b, site, 330 + b.jitter(4), ProjectStage.FEASIBILITY,
                         "Bulk-sample metallurgy supports a pre-feasibility study")
        case _:
            pass


def ownership(b: Builder, site: w.Site, day: float) -> None:
    """The smelter takes a tenth of the project from the operator and the local partner."""
    smelter = Shareholder(name=w.LIANYUNGANG.name, uscc=w.LIANYUNGANG.uscc, share_pct=Decimal(10))
    moment = b.office(day)
    b.emit(site.firm.org, OwnershipChanged(
        project_id=site.project_id, operator_uscc=site.firm.uscc,
        effective_on=b.date_of(moment), joint_venture=(*joint_venture(site, 70, 20), smelter),
        approval_ref=f"SIFC-{b.date_of(moment):%Y}-0088"), moment)


def project_story(b: Builder, site: w.Site) -> None:
    """The year of a registered project (after the licence stories set its idle spells)."""
    milestones_and_stages(b, site)
    monthly_returns(b, site)
    investments(b, site)
    incidents(b, site)
