"""The twelve projects of the scenario, where the real deposits lie (names and ids synthetic)."""

from __future__ import annotations

from dataclasses import replace

from infra.demo import scenario_world as w
from schemas.common import Mineral, Names, Province, TitleType
from schemas.events.projects import ProjectStage
from schemas.events.shipments import ExitPoint, Incoterm, UnitKind
from schemas.measures import Element, GradeUnit, Product

PCT, GPT = GradeUnit.PERCENT, GradeUnit.GRAMS_PER_TONNE
BA, SD, KP = Province.BALOCHISTAN, Province.SINDH, Province.KHYBER_PAKHTUNKHWA
PB, GB = Province.PUNJAB, Province.GILGIT_BALTISTAN
P = ProjectStage

CHAGAI_HILLS = w.Site(
    "chagai-hills", BA, "Chagai", "CHG", 11,
    Names(en="Chagai Hills Copper-Gold Project", zh="查盖山铜金项目"),
    (Mineral.COPPER, Mineral.GOLD), w.SINO_CHAGAI, P.CONSTRUCTION, (29.12, 62.06), 99.5,
    TitleType.MINING_LEASE, (2850, 640, 1900), cpec=True)

SAINDAK_SOUTH = w.Site(
    "saindak-south", BA, "Chagai", "CHG", 12,
    Names(en="Saindak South Copper-Gold Project", zh="山达克南铜金项目"),
    (Mineral.COPPER, Mineral.GOLD, Mineral.SILVER), w.MCC, P.PRODUCTION, (29.26, 61.59), 32.0,
    TitleType.MINING_LEASE, (1650, 380, 1100), cpec=True,
    production=w.Production(
        380_000, ((Element.CU, 0.35, 0.45, PCT), (Element.AU, 0.30, 0.50, GPT),
                        (Element.AG, 1.2, 2.0, GPT)),
        ((Product.BLISTER_COPPER, 1350),), Mineral.COPPER, 5, 2_400_000, milled=True),
    exports=(w.Export(
        Product.BLISTER_COPPER, "74020000", ExitPoint.GWADAR, w.LIANYUNGANG, "Lianyungang",
        (1400, 1900), (0, 0), ((Element.CU, 98.6, 99.3, PCT), (Element.AU, 8, 15, GPT),
                               (Element.AG, 25, 45, GPT)),
        UnitKind.CONTAINER, 24, Incoterm.CFR, 8650, (3, 5), 45,
        "Chagai Assay House, Dalbandin"),))

CHAGAI_WEST = w.Site(
    "chagai-west", BA, "Chagai", "CHG", 13,
    Names(en="Chagai West Copper Exploration Project", zh="查盖西铜矿勘探项目"),
    (Mineral.COPPER, Mineral.MOLYBDENUM), w.MCC, P.EXPLORATION, (29.02, 61.74), 186.0,
    TitleType.EXPLORATION_LICENCE, (85, 22, 60))

DUDDAR_EAST = w.Site(
    "duddar-east", BA, "Lasbela", "LSB", 14,
    Names(en="Duddar East Lead-Zinc Project", zh="杜达东铅锌项目"),
    (Mineral.LEAD, Mineral.ZINC, Mineral.SILVER), w.HUAYE, P.PRODUCTION, (26.11, 66.91), 18.6,
    TitleType.MINING_LEASE, (720, 160, 510), cpec=True,
    production=w.Production(
        62_000, ((Element.PB, 1.8, 2.4, PCT), (Element.ZN, 8.0, 9.5, PCT),
                       (Element.AG, 40, 60, GPT)),
        ((Product.ZINC_CONCENTRATE, 5200), (Product.LEAD_CONCENTRATE, 1250)), Mineral.ZINC,
        5, 320_000, milled=True),
    exports=(
        w.Export(Product.ZINC_CONCENTRATE, "26080000", ExitPoint.PORT_QASIM,
                 w.TIANJIN_NONFERROUS, "Tianjin", (3000, 4200), (8, 10),
                 ((Element.ZN, 50, 54, PCT), (Element.PB, 1, 2, PCT)), UnitKind.TRUCK, 38,
                 Incoterm.FOB, 1150, (1, 2), 40, "Indus Minerals Laboratory, Karachi"),
        w.Export(Product.LEAD_CONCENTRATE, "26070000", ExitPoint.KARACHI_PORT,
                 w.TIANJIN_NONFERROUS, "Qingdao", (1200, 1800), (7, 9),
                 ((Element.PB, 55, 65, PCT), (Element.AG, 300, 600, GPT)), UnitKind.TRUCK, 38,
                 Incoterm.FOB, 1550, (1, 2), 60, "Indus Minerals Laboratory, Karachi"),
    ))

THAR_NORTH = w.Site(
    "thar-north", SD, "Tharparkar", "THR", 15,
    Names(en="Thar Block North Lignite Mine", zh="塔尔北区块褐煤矿"),
    (Mineral.LIGNITE,), w.THAR_COAL, P.PRODUCTION, (24.80, 70.24), 95.0,
    TitleType.MINING_LEASE, (2300, 420, 1800), cpec=True,
    production=w.Production(
        640_000, ((Element.ASH, 6, 8, PCT), (Element.S, 0.8, 1.2, PCT)),
        ((Product.LIGNITE, 610_000),), Mineral.LIGNITE, 2.5, 3_000))

THAR_SOUTH = w.Site(
    "thar-south", SD, "Tharparkar", "THR", 16,
    Names(en="Thar Block South Lignite Mine", zh="塔尔南区块褐煤矿"),
    (Mineral.LIGNITE,), w.SINDH_LIGNITE, P.CONSTRUCTION, (24.66, 70.36), 80.0,
    TitleType.MINING_LEASE, (1400, 520, 1000), cpec=True,
    production=w.Production(
        260_000, ((Element.ASH, 7, 9, PCT), (Element.S, 0.9, 1.4, PCT)),
        ((Product.LIGNITE, 240_000),), Mineral.LIGNITE, 2.5, 3_000))

MUSLIM_BAGH = w.Site(
    "muslim-bagh", BA, "Killa Saifullah", "KSF", 17,
    Names(en="Muslim Bagh Chromite Mine", zh="穆斯林巴格铬铁矿"),
    (Mineral.CHROMITE,), w.ZHOB_CHROME, P.PRODUCTION, (30.84, 67.74), 12.4,
    TitleType.MINING_LEASE, (340, 35, 290),
    production=w.Production(
        9_000, ((Element.CR2O3, 38, 45, PCT),), ((Product.CHROMITE_ORE, 8200),),
        Mineral.CHROMITE, 5, 70_000),
    exports=(w.Export(
        Product.CHROMITE_ORE, "26100000", ExitPoint.KARACHI_PORT, w.XIAMEN_FERROALLOY, "Xiamen",
        (900, 1300), (3, 5), ((Element.CR2O3, 40, 46, PCT),), UnitKind.CONTAINER, 26,
        Incoterm.CIF, 255, (2, 3), 45, "Quetta Geochemical Laboratory"),))

MALAKAND = w.Site(
    "malakand", KP, "Malakand", "MLK", 18,
    Names(en="Malakand Chromite Mine", zh="马拉坎德铬铁矿"),
    (Mineral.CHROMITE,), w.MALAKAND_CHROME, P.PRODUCTION, (34.58, 71.94), 4.8,
    TitleType.SMALL_SCALE_MINING_LEASE, (190, 18, 160),
    production=w.Production(
        3_600, ((Element.CR2O3, 42, 48, PCT),), ((Product.CHROMITE_ORE, 3300),),
        Mineral.CHROMITE, 5, 70_000),
    exports=(w.Export(
        Product.CHROMITE_ORE, "26100000", ExitPoint.SOST_KHUNJERAB, w.KASHGAR_CHROME, "Kashgar",
        (500, 750), (3, 4), ((Element.CR2O3, 44, 48, PCT),), UnitKind.TRUCK, 30, Incoterm.DAP,
        290, (3, 4), 35, "Peshawar Minerals Testing Laboratory"),))

SHIGAR = w.Site(
    "shigar", GB, "Shigar", "SGR", 19,
    Names(en="Shigar Lithium Pegmatite Project", zh="希格尔锂伟晶岩项目"),
    (Mineral.LITHIUM,), w.KARAKORAM_LITHIUM, P.EXPLORATION, (35.43, 75.74), 64.0,
    TitleType.EXPLORATION_LICENCE, (120, 30, 95),
    exports=(w.Export(
        Product.SPODUMENE_CONCENTRATE, "25309000", ExitPoint.SOST_KHUNJERAB, w.KASHGAR_LITHIUM,
        "Kashgar", (55, 75), (4, 6), ((Element.LI2O, 5.6, 6.2, PCT),), UnitKind.TRUCK, 28,
        Incoterm.FCA, 900, (1, 2), 0, "Gilgit Geoscience Laboratory"),))

HARAMOSH = w.Site(
    "haramosh", GB, "Gilgit", "GLT", 20,
    Names(en="Haramosh Lithium Project", zh="哈拉莫什锂矿项目"),
    (Mineral.LITHIUM,), w.HARAMOSH_LITHIUM, P.EXPLORATION, (35.85, 74.89), 48.0,
    TitleType.EXPLORATION_LICENCE, (45, 12, 38))

CHINIOT = w.Site(
    "chiniot", PB, "Chiniot", "CHN", 21,
    Names(en="Chiniot Iron Ore Project", zh="奇尼奥特铁矿项目"),
    (Mineral.IRON_ORE, Mineral.COPPER), w.CHINIOT_IRON, P.FEASIBILITY, (31.72, 72.97), 28.0,
    TitleType.EXPLORATION_LICENCE, (260, 70, 190), cpec=True)

HAZARA_REE = w.Site(
    "hazara-ree", KP, "Mansehra", "MNS", 22,
    Names(en="Hazara Rare Earths Project", zh="哈扎拉稀土项目"),
    (Mineral.RARE_EARTHS,), w.HAZARA_REE, P.EXPLORATION, (34.41, 73.24), 36.0,
    TitleType.EXPLORATION_LICENCE, (40, 10, 32))

SITES: tuple[w.Site, ...] = (
    CHAGAI_HILLS, SAINDAK_SOUTH, CHAGAI_WEST, DUDDAR_EAST, THAR_NORTH, THAR_SOUTH, MUSLIM_BAGH,
    MALAKAND, SHIGAR, HARAMOSH, CHINIOT, HAZARA_REE,
)
"""The base year's projects, one story each (see the licence and shipment modules)."""

ROUTINE = (SAINDAK_SOUTH, DUDDAR_EAST, THAR_NORTH, MUSLIM_BAGH, MALAKAND)
"""Producing sites whose twins fill a bigger year (``scale`` > 1): leases, reports, exports."""


NORTH_LIMIT = 37.0
"""Twins are placed north of their original unless that leaves Pakistan's northern border."""


def twin(site: w.Site, number: int) -> w.Site:
    """A further block of a producing site: same operator and district, its own id and area."""
    lat, lon = site.centre
    shift = 0.04 * number
    return replace(
        site, key=f"{site.key}-{number}", serial=site.serial + 100 * number,
        names=Names(en=f"{site.names.en}, Block {number + 1}",
                    zh=f"{site.names.zh}{number + 1}号区块"),
        centre=(lat + shift if lat + shift < NORTH_LIMIT else lat - shift, lon),
        stage=P.PRODUCTION,
    )
