"""The licensing year: pre-platform leases loaded, then each province's applications and decisions.

Balochistan grants after a deficiency round, refuses an overlapping application, considers another
and takes a lease through cancellation to restoration on appeal; Sindh grants one and considers
another; Khyber Pakhtunkhwa grants after a deficiency round and renews a small-scale lease; Punjab
converts an exploration licence to a lease; Gilgit-Baltistan grants and amends one licence, sees an
application withdrawn and waits on an applicant's answer to a deficiency notice.
"""

from __future__ import annotations

from datetime import date, timedelta

from consumers.views.models import ApprovalStatus as S
from infra.demo import scenario_licences as lic
from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder
from infra.demo.scenario_licences import Title
from schemas.common import TitleType
from schemas.events.approvals_applications import (
    ApplicationWithdrawn,
    Condition,
    LicenceRefused,
    add_years,
)
from schemas.events.approvals_licences import LicenceAmended, WorkCommenced
from schemas.events.approvals_other import add_months

EL = TitleType.EXPLORATION_LICENCE
LEASES = {  # site → (years since the grant, term), for titles granted before the platform
    "chagai-hills": (3, 30), "duddar-east": (21, 30), "thar-north": (9, 30),
    "thar-south": (4, 30), "muslim-bagh": (10, 30), "chiniot": (2, 3),
}
RENEWALS = {  # site → (expiry day, old term, renewal applied day, renewed day, new term)
    "saindak-south": (110, 20, 30, 105, 15), "malakand": (250, 5, 170, 235, 5),
}
TWIN_SERIAL = 100
"""Twins of producing sites (a bigger year) have project serials above this."""


def leases(b: Builder, sites: tuple[w.Site, ...]) -> dict[str, Title]:
    """The titles each site already held when the platform opened, numbered as then."""
    out: dict[str, Title] = {}
    for site in sites:
        if site.key in RENEWALS:
            expiry, term, *_ = RENEWALS[site.key]
            out[site.key] = lic.lease(b, site, 0, term, expires_day=expiry + b.jitter(3))
        elif site.key in LEASES:
            out[site.key] = lic.lease(b, site, *LEASES[site.key])
        elif site.serial > TWIN_SERIAL:
            out[site.key] = lic.lease(b, site, 10 + site.serial // TWIN_SERIAL % 20, 30)
    return out


def work_conditions(on: date) -> tuple[Condition, ...]:
    return (Condition(text="Commence work on the ground", due_on=add_months(on, 6)),
            Condition(text="File the annual work report and statement of expenditure",
                      due_on=add_years(on, 1) - timedelta(days=1)))


def applied(b: Builder, site: w.Site, day: float, *, area: float | None = None,
            shift: float = 0.0, due_days: int = 90) -> tuple[Title, date]:
    """A new exploration licence application, received and acknowledged three days later."""
    t = lic.new_title(b, site, day, EL, area=area, shift=shift)
    lic.receive(b, t, b.office(day))
    return t, lic.acknowledge(b, t, day + 3, due_days)


def granted(b: Builder, t: Title, day: float, term: int = 3) -> date:
    moment = b.office(day)
    lic.grant(b, t, moment, term, conditions=work_conditions(b.date_of(moment)))
    return b.date_of(moment)


def with_deficiency(b: Builder, site: w.Site, day: float, items: tuple[str, ...]) -> Title:
    """Applied, found incomplete, answered, granted: the common path of a careful authority."""
    t, _ = applied(b, site, day)
    notice, _ = lic.deficiency(b, t, day + 20 + b.jitter(2), 30, items)
    lic.resubmit(b, t, day + 40 + b.jitter(2), notice, "The missing documents are attached")
    granted(b, t, day + 80 + b.jitter(3))
    return t


def commenced(b: Builder, t: Title, day: float, what: str) -> None:
    """The holder reports work on the ground began: the commencement obligation is met."""
    moment = b.office(day)
    b.emit(t.firm, WorkCommenced(title_number=t.number, holder_uscc=t.holder,
                                 commenced_on=b.date_of(moment), description=what), moment)


def refused(b: Builder, site: w.Site, day: float) -> None:
    t, _ = applied(b, site, day, area=42, shift=0.06)
    moment = b.office(day + 70 + b.jitter(3))
    on = b.date_of(moment)
    b.emit(t.authority, LicenceRefused(
        title_number=t.number, holder_uscc=t.holder, refused_on=on,
        reasons=(("The area overlaps an exploration licence application received 41 days "
                 "earlier, which ranks first"),), appealable_until=on + timedelta(days=30)),
        moment)
    b.facts.titles[t.number] = S.REFUSED
    b.facts.anchors.refused_title = (t.number, t.holder)


def amended(b: Builder, t: Title, day: float, granted_on: date) -> None:
    """Two conditions added to those of the grant (an amendment restates the whole list)."""
    moment = b.office(day)
    b.emit(t.authority, LicenceAmended(
        title_number=t.number, holder_uscc=t.holder, amended_on=b.date_of(moment),
        description="Conditions on winter access and local hiring added",
        conditions=(*work_conditions(granted_on),
                    Condition(text="Keep the winter access track to the pegmatite field open"),
                    Condition(text="Hire at least 60 % of unskilled workers from the district"))),
        moment)


def withdrawn(b: Builder, site: w.Site, day: float) -> None:
    t = lic.new_title(b, site, day, EL, area=30, shift=0.05)
    lic.receive(b, t, b.at(day, 16.5))
    moment = b.office(day + 40)
    b.emit(t.firm, ApplicationWithdrawn(
        title_number=t.number, holder_uscc=t.holder, withdrawn_on=b.date_of(moment),
        reason="The area overlaps the Central Karakoram National Park"), moment)
    b.facts.titles[t.number] = S.WITHDRAWN


def licence_year(b: Builder, sites: dict[str, w.Site], titles: dict[str, Title]) -> None:
    j = b.jitter
    for title in titles.values():
        lic.backfill(b, title)
    for key, (_, _, applied_day, renewed_day, term) in RENEWALS.items():
        lic.renew(b, titles[key], applied_day + j(2), renewed_day + j(2), term)
    lic.cancelled_and_restored(b, titles["muslim-bagh"])
    lic.converted(b, titles["chiniot"], 215 + j(3))
    west = with_deficiency(b, sites["chagai-west"], 20 + j(2), (
        "Work programme lacks a year-2 drilling budget",
        "Attested copy of the SECP incorporation certificate missing"))
    commenced(b, west, 160 + j(3), "Geological mapping and trenching crews mobilised")
    with_deficiency(b, sites["hazara-ree"], 130 + j(2), (
        "Radiometric survey plan not attached",
        "Consent of the landowners of the licence area missing"))
    refused(b, sites["duddar-east"], 60 + j(2))
    t, due = applied(b, sites["chagai-hills"], 300 + j(2), area=75, shift=0.08)
    lic.pending(b, t, S.ACKNOWLEDGED, "decision_due_on", due)
    b.facts.anchors.pending_ba_title = (t.number, t.holder)
    t, _ = applied(b, sites["thar-north"], 40 + j(2), area=60, shift=0.07, due_days=60)
    granted(b, t, 120 + j(3))
    t, due = applied(b, sites["thar-north"], 280 + j(2), area=45, shift=-0.07, due_days=120)
    lic.pending(b, t, S.ACKNOWLEDGED, "decision_due_on", due)
    t, _ = applied(b, sites["shigar"], 20 + j(2))
    amended(b, t, 200 + j(3), granted(b, t, 95 + j(3)))
    haramosh = sites["haramosh"]
    t, _ = applied(b, haramosh, 250 + j(2))
    _, respond_by = lic.deficiency(b, t, 320 + j(2), 60, (
        "Boundary coordinates do not close",
        "No no-objection certificate from the Gilgit-Baltistan Forest Department"))
    lic.pending(b, t, S.DEFICIENT, "respond_by", respond_by)
    b.facts.anchors.pending_gb_title = (t.number, t.holder, haramosh.firm.org)
    withdrawn(b, haramosh, 250 + j(2))
