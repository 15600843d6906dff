"""The year's exports: routine shipments from the producing sites, and the ones the story needs.

A held consignment, a corrected assay, a declaration relying on a rejected export approval and a
lithium bulk sample over Khunjerab always happen; routine shipments follow each site's rhythm
(sparser in a small year), never while a site is idle, over Khunjerab only in its open season.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder
from infra.demo.scenario_shipments import Journey, YearEndedError, quantity
from schemas.events.approvals_other import LpcoStatus
from schemas.events.corrections import CorrectionReason, ShipmentCorrected
from schemas.events.shipments import ExitPoint, LotAssayed
from schemas.events.shipments_border import HoldReason

LAST_PLAN_DAY = 360
"""Shipments planned late in the year are still on their way when it ends."""


def in_season(day: date) -> bool:
    """Khunjerab is open 1 April - 30 November."""
    return date(day.year, 4, 1) <= day <= date(day.year, 11, 30)


def journey(b: Builder, site: w.Site, export: w.Export, day: float, title: str | None) -> Journey:
    moment = b.office(day)
    year = b.date_of(moment).year
    number = f"SHP-{year}-{b.serial(f'SHP-{year}', 301):06d}"
    cargo = quantity(b.between(*export.lot_wmt, 3), b.between(*export.moisture, 2))
    return Journey(b, site, export, number, title, cargo, moment)


def approval(j: Journey) -> str:
    """PSW records the export NOC: sometimes its submission too, always its approval."""
    number = None
    if j.b.chance(0.5):
        number = j.lpco(j.b.rng.uniform(4, 20), LpcoStatus.SUBMITTED)
    return j.lpco(j.b.rng.uniform(40, 70), LpcoStatus.APPROVED, number)


def to_the_exit(j: Journey, approvals: tuple[str, ...], value_factor: float = 1.0) -> None:
    rng = j.b.rng
    j.loaded(rng.uniform(24, 48))
    j.departed(rng.uniform(4, 10))
    j.declared(rng.uniform(2, 6), approvals, value_factor)


def out_of_pakistan(j: Journey) -> None:
    rng = j.b.rng
    j.cleared(rng.uniform(18, 40))
    j.left_pakistan(rng.uniform(48, 110) if j.sea else rng.uniform(10, 30))
    j.arrived(rng.uniform(18, 26) if j.sea else rng.uniform(1.5, 3))
    j.invoiced(rng.uniform(25, 45))


def settle(j: Journey) -> None:
    assert j.state is not None
    j.b.facts.shipments[j.shipment_id] = j.state


def routine(j: Journey) -> None:
    try:
        j.planned()
        lpco = approval(j)
        j.assayed(j.b.rng.uniform(30, 60))
        to_the_exit(j, (lpco,))
        out_of_pakistan(j)
    except YearEndedError:
        pass
    settle(j)


def corrected(j: Journey) -> None:
    """The exporter keyed a grade wrong in the assay and corrects it the next day."""
    j.planned()
    lpco = approval(j)
    true = j.grades()
    first = true[0]
    wrong = first.model_copy(update={"value": first.value + 10})
    assay = j.assayed(j.b.rng.uniform(30, 60), (wrong, *true[1:]))
    step = j.tell(j.firm.org, ShipmentCorrected(
        **j.ids(), corrects_event_id=assay.event_id, corrected_type=LotAssayed.ce_type(),
        reason=CorrectionReason.INCORRECT_DATA,
        explanation=(f"{first.element.value} grade keyed as {wrong.value} % instead of "
                     f"{first.value} % from the laboratory certificate"),
        replacement={"grades": [g.model_dump(mode="json") for g in true]}), j.later(20))
    j.b.facts.corrected_event = assay.event_id
    j.b.facts.correction_event = step.event_id
    to_the_exit(j, (lpco,))
    out_of_pakistan(j)
    settle(j)


def held(j: Journey) -> None:
    """Declared well below the valuation ruling: customs holds it, and the year ends so."""
    j.planned()
    lpco = approval(j)
    j.assayed(j.b.rng.uniform(30, 60))
    to_the_exit(j, (lpco,), value_factor=0.72)
    per_dmt = j.export.usd_per_dmt * Decimal("0.72")
    j.held(j.b.rng.uniform(12, 30), HoldReason.VALUATION,
           f"Declared USD {per_dmt:.0f}/dmt is 28 % below the valuation ruling for "
           f"{j.export.product.value.replace('_', ' ')}; samples drawn for a check assay")
    settle(j)
    j.b.facts.held_shipment = j.shipment_id
    j.b.facts.anchors.held_declaration = j.declaration


def without_approval(j: Journey) -> None:
    """Declared on an export NOC that PSW had rejected: held; a fresh NOC is issued, the
    declaration amended to rely on it, and customs clears it."""
    rng = j.b.rng
    j.planned()
    rejected = j.lpco(rng.uniform(4, 20), LpcoStatus.SUBMITTED)
    j.lpco(rng.uniform(60, 90), LpcoStatus.REJECTED, rejected,
           "The mining lease stood cancelled when the export NOC was requested")
    j.assayed(rng.uniform(30, 60))
    j.loaded(24 * rng.uniform(9, 10))  # waits at the mine for the lease to be restored
    j.departed(rng.uniform(4, 10))
    j.declared(rng.uniform(2, 6), (rejected,))
    j.held(rng.uniform(6, 20), HoldReason.MISSING_EXPORT_APPROVAL,
           f"Export NOC {rejected} was rejected: a valid NOC is required before release")
    fresh = j.lpco(rng.uniform(2, 6), LpcoStatus.SUBMITTED)
    j.lpco(rng.uniform(24, 40), LpcoStatus.APPROVED, fresh)
    j.amended(rng.uniform(44, 60), (fresh,), f"Export NOC {fresh} issued after filing, attached")
    out_of_pakistan(j)
    settle(j)
    j.b.facts.no_approval_shipment = j.shipment_id


def may_ship(b: Builder, site: w.Site, export: w.Export, day: float) -> bool:
    for start, end in b.facts.idle.get(site.project_id, ()):
        if start - 30 <= day <= end:
            return False
    if export.exit_point is ExitPoint.SOST_KHUNJERAB:
        plan = b.date_of(b.at(day))
        return in_season(plan) and in_season(plan + timedelta(days=30))
    return True


def routine_exports(b: Builder, site: w.Site, title: str | None) -> None:
    for export in site.exports:
        if not export.interval_days:
            continue
        interval = export.interval_days / min(b.scale, 1.0)  # a bigger year adds sites
        day = b.rng.uniform(3, min(interval, 120))
        while day < LAST_PLAN_DAY:
            if may_ship(b, site, export, day):
                routine(journey(b, site, export, day, title))
            day += interval * b.rng.uniform(0.85, 1.15)


def story_exports(b: Builder, sites: dict[str, w.Site], titles: dict[str, str]) -> None:
    """The shipments the year's story needs, whatever the scale."""
    duddar, bagh, shigar = sites["duddar-east"], sites["muslim-bagh"], sites["shigar"]
    zinc, lead = duddar.exports
    corrected(journey(b, duddar, lead, 120 + b.jitter(3), titles.get(duddar.key)))
    without_approval(journey(b, bagh, bagh.exports[0], 188 + b.jitter(1), titles.get(bagh.key)))
    held(journey(b, duddar, zinc, 325 + b.jitter(3), titles.get(duddar.key)))
    day = next(d for d in range(100, 330)
               if may_ship(b, shigar, shigar.exports[0], d))
    routine(journey(b, shigar, shigar.exports[0], day, None))

