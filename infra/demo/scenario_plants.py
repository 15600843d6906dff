"""Value added in Pakistan: a ferrochrome smelter at Hub takes chromite ore from Muslim Bagh.

The smelter is a project of its own (``kind`` smelter, chromite ore in, ferrochrome out); each
month after the mine reports its production, the smelter's operator reports the ore it received
from the mine (``pk.emining.project.offtake.delivered``). The mine's view then shows, when read,
how much of its output stayed in the country to be smelted.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from infra.demo import scenario_world as w
from infra.demo.scenario_core import Builder
from schemas.common import Mineral, Names, Province
from schemas.events.projects import (
    Capacity,
    ProjectKind,
    ProjectRegistered,
    ProjectStage,
    Shareholder,
)
from schemas.events.projects_reports import OfftakeDelivered
from schemas.measures import Product, Quantity

SMELTER = "PRJ-BA-LSB-0031"
"""Hub's ferrochrome smelter (Lasbela district, Balochistan)."""
OPERATOR = w.ZHOB_CHROME
SUPPLIER_KEY = "muslim-bagh"
SHARE = (0.25, 0.35)
"""The part of the mine's monthly output trucked to the smelter."""
MOISTURE = Decimal("3.0")


def register(b: Builder) -> None:
    """The smelter enters the register in the first week, in production."""
    b.emit(OPERATOR.org, ProjectRegistered(
        project_id=SMELTER, operator_uscc=OPERATOR.uscc,
        names=Names(en="Hub Ferrochrome Smelter", zh="胡布铬铁冶炼厂"),
        province=Province.BALOCHISTAN, district="Lasbela", minerals=(Mineral.CHROMITE,),
        stage=ProjectStage.PRODUCTION, operator_name=OPERATOR.name,
        joint_venture=(Shareholder(name=OPERATOR.name, uscc=OPERATOR.uscc,
                                   share_pct=Decimal(100)),), related_titles=(), cpec=True,
        kind=ProjectKind.SMELTER, inputs=(Product.CHROMITE_ORE,),
        outputs=(Product.FERROCHROME,),
        capacity=Capacity(tonnes_per_year=Decimal("120000.000"),
                          product=Product.CHROMITE_ORE)), b.office(b.rng.randint(0, 4)))
    b.facts.stages[SMELTER] = ProjectStage.PRODUCTION


def deliveries(b: Builder, mine: w.Site) -> None:
    """Each month the mine reported production, a share of it reaches the smelter in the
    next weeks; the smelter reports it when the month's last truck is weighed."""
    for period, dmt in sorted(b.facts.output.get(mine.project_id, {}).items()):
        month = date.fromisoformat(f"{period}-01")
        on = (month.replace(day=28) + timedelta(days=4)).replace(day=1) + timedelta(
            days=b.rng.randint(8, 18))
        moment = b.at((on - b.date_of(b.origin)).days, 16 + b.rng.randrange(0, 90) / 60)
        if not b.within(moment):
            continue
        dry = (dmt * Decimal(f"{b.rng.uniform(*SHARE):.3f}")).quantize(Decimal("0.001"))
        wet = (dry * 100 / (100 - MOISTURE)).quantize(Decimal("0.001"))
        b.emit(OPERATOR.org, OfftakeDelivered(
            project_id=SMELTER, operator_uscc=OPERATOR.uscc, supplier_project_id=mine.project_id,
            supplier_uscc=mine.firm.uscc, product=Product.CHROMITE_ORE,
            quantity=Quantity(wmt=wet, moisture_pct=MOISTURE, dmt=dry), delivered_on=on,
            delivery_ref=f"WB-HUB-{on:%Y%m}-{b.serial('WB-HUB', 301):04d}"), moment)
