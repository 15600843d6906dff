"""The scenario's cast: the demo registry's organisations and firms, buyers, and site shapes.

Everything here is synthetic but shaped like DOMAIN.md: sites where the real deposits are, the
products and HS headings they ship, the exit points they use. Identifiers (USCCs, NTNs) are
inventions that pass their checksums; the firms are the ones ``registry.yaml`` onboards.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import Mineral, Names, Province, TitleType
from schemas.events.projects import ProjectStage
from schemas.events.shipments import ExitPoint, Incoterm, UnitKind
from schemas.measures import Element, GradeUnit, Product

BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
SD_MMD = "urn:emining:pk:gov:sd-mmd"
KP_MDD = "urn:emining:pk:gov:kp-mdd"
PB_MMD = "urn:emining:pk:gov:pb-mmd"
GB_MMD = "urn:emining:pk:gov:gb-mmd"
BA_EPA = "urn:emining:pk:gov:ba-epa"
SEPA = "urn:emining:pk:gov:sepa"
KP_EPA = "urn:emining:pk:gov:kp-epa"
PB_EPD = "urn:emining:pk:gov:pb-epd"
GB_EPA = "urn:emining:pk:gov:gb-epa"
PSW = "urn:emining:pk:gov:psw"
CUSTOMS = "urn:emining:pk:gov:customs"
PQA = "urn:emining:pk:gov:pqa"
KPT = "urn:emining:pk:gov:kpt"
GPA = "urn:emining:pk:gov:gpa"
NLC_SOST = "urn:emining:pk:gov:nlc-sost"

LICENSING = {Province.BALOCHISTAN: BA_MMDD, Province.SINDH: SD_MMD,
             Province.KHYBER_PAKHTUNKHWA: KP_MDD, Province.PUNJAB: PB_MMD,
             Province.GILGIT_BALTISTAN: GB_MMD}
"""The licensing authority of each province (minerals are a provincial subject)."""
EPA = {Province.BALOCHISTAN: BA_EPA, Province.SINDH: SEPA, Province.KHYBER_PAKHTUNKHWA: KP_EPA,
       Province.PUNJAB: PB_EPD, Province.GILGIT_BALTISTAN: GB_EPA}
PORT_AUTHORITY = {ExitPoint.PORT_QASIM: PQA, ExitPoint.KARACHI_PORT: KPT, ExitPoint.GWADAR: GPA}
DECLARATION_PREFIX = {ExitPoint.PORT_QASIM: "KPQE", ExitPoint.KARACHI_PORT: "KAPE",
                      ExitPoint.GWADAR: "GWDE", ExitPoint.SOST_KHUNJERAB: "SOST"}
"""Customs collectorate prefixes of goods declaration numbers (WeBOC style, illustrative)."""


@dataclass(frozen=True, slots=True)
class Firm:
    """A Chinese enterprise of the registry and its Pakistani subsidiary."""

    org: str
    uscc: str
    name: Names
    local: Names
    ntn: str


def _firm(slug: str, uscc: str, en: str, zh: str, local: str, ntn: str) -> Firm:
    return Firm(f"urn:emining:cn:ent:{slug}", uscc, Names(en=en, zh=zh),
                Names(en=f"{local} (Pvt) Ltd"), ntn)


MCC = _firm("mcc-resources", "91650100MA7XK3P2LA", "MCC Chagai Resources Co., Ltd.",
            "中冶查盖资源有限公司", "MCC Chagai Resources Pakistan", "4211234-5")
SINO_CHAGAI = _firm("sino-chagai", "91110000MA02C8JK7W", "China Chagai Copper-Gold Co., Ltd.",
                    "中国查盖铜金有限公司", "Chagai Copper-Gold Pakistan", "4218807-2")
HUAYE = _firm("huaye-lasbela", "91310000MA1FL8QW3Y", "Huaye Lasbela Mining Co., Ltd.",
              "华冶拉斯贝拉矿业有限公司", "Huaye Duddar Mining Pakistan", "4203391-7")
THAR_COAL = _firm("thar-coal-energy", "91110000MA01Y5RT7Y", "Thar Coal Energy Co., Ltd.",
                  "塔尔煤电有限公司", "Thar Coal Energy Pakistan", "4251160-3")
SINDH_LIGNITE = _firm("sindh-lignite", "91130200MA0F9L2N6M",
                      "Sino-Sindh Lignite Mining Co., Ltd.", "中巴信德褐煤矿业有限公司",
                      "Sino-Sindh Lignite", "4259023-8")
ZHOB_CHROME = _firm("zhob-chrome", "91120116MA05LJ8B40", "Zhob Chrome Mining Co., Ltd.",
                    "佐布铬矿有限公司", "Zhob Chrome Mining Pakistan", "5631778-1")
MALAKAND_CHROME = _firm("malakand-chrome", "91320700MA1WQ8C4RY",
                        "Malakand Chrome Ore Co., Ltd.", "马拉坎德铬矿有限公司",
                        "Malakand Chrome Ore", "1720455-9")
KARAKORAM_LITHIUM = _firm("karakoram-lithium", "91540000MA6T3K9Q2K",
                          "Karakoram Lithium Resources Co., Ltd.", "喀喇昆仑锂业有限公司",
                          "Karakoram Lithium Pakistan", "7140832-6")
HARAMOSH_LITHIUM = _firm("haramosh-lithium", "91510100MA6CN5XW8E", "Haramosh Lithium Co., Ltd.",
                         "哈拉莫什锂业有限公司", "Haramosh Lithium", "7146219-4")
CHINIOT_IRON = _firm("chiniot-iron", "91210000MA0UX9K5EU", "Chiniot Iron Ore Mining Co., Ltd.",
                     "奇尼奥特铁矿开发有限公司", "Chiniot Iron Ore Mining", "3520716-2")
HAZARA_REE = _firm("hazara-rare-earths", "91150200MA0Q4H7L9C", "Hazara Rare Earth Co., Ltd.",
                   "哈扎拉稀土有限公司", "Hazara Rare Earth", "1730984-5")

LOCAL_PARTNERS = {
    Province.BALOCHISTAN: (Names(en="Balochistan Minerals Holding Ltd",
                                 ur="بلوچستان منرلز ہولڈنگ لمیٹڈ"), "4239015-6"),
    Province.SINDH: (Names(en="Sindh Lignite Holding (Pvt) Ltd", ur="سندھ لگنائٹ ہولڈنگ"),
                     "4265530-1"),
    Province.PUNJAB: (Names(en="Punjab Minerals Holding (Pvt) Ltd", ur="پنجاب منرلز ہولڈنگ"),
                      "3527741-8"),
}
"""Provincial holding companies (synthetic) that take a share of CPEC projects in their province."""

SMELTER = ("Lianyungang Copper Smelting Co., Ltd.", "连云港铜冶炼有限公司", "91440300MA5GQ2N8HU")


@dataclass(frozen=True, slots=True)
class Buyer:
    name: Names
    uscc: str


LIANYUNGANG = Buyer(Names(en=SMELTER[0], zh=SMELTER[1]), SMELTER[2])
TIANJIN_NONFERROUS = Buyer(Names(en="Tianjin Nonferrous Concentrates Trading Co., Ltd.",
                                 zh="天津有色精矿贸易有限公司"), "91120000MA06DL8P3Q")
XIAMEN_FERROALLOY = Buyer(Names(en="Xiamen Ferroalloy Trading Co., Ltd.",
                                zh="厦门铁合金贸易有限公司"), "91350200MA2Y6FJ3CW")
KASHGAR_CHROME = Buyer(Names(en="Kashgar Chrome Trading Co., Ltd.", zh="喀什铬业贸易有限公司"),
                       "91653101MA79C2HW6A")
KASHGAR_LITHIUM = Buyer(Names(en="Kashgar Lithium Materials Co., Ltd.",
                              zh="喀什锂材料有限公司"), "91653100MA78QK3T5C")

Range = tuple[float, float]
GradeSpec = tuple[Element, float, float, GradeUnit]


@dataclass(frozen=True, slots=True)
class Production:
    """A producing site's month: ore mined, head grades, and dry tonnes of each product."""

    ore_t: int
    grades: tuple[GradeSpec, ...]
    outputs: tuple[tuple[Product, int], ...]
    royalty_mineral: Mineral
    royalty_pct: float
    value_pkr_per_t: int
    """Notional value of a tonne of the first output: royalty is ad valorem (illustrative)."""
    milled: bool = False
    """Whether ore goes through a mill (concentrators) or is sold as mined (lignite, chromite)."""


@dataclass(frozen=True, slots=True)
class Export:
    """How a site's product leaves Pakistan."""

    product: Product
    hs_code: str
    exit_point: ExitPoint
    buyer: Buyer
    destination: str
    lot_wmt: Range
    moisture: Range
    assay: tuple[GradeSpec, ...]
    unit: UnitKind
    unit_net_t: float
    incoterm: Incoterm
    usd_per_dmt: int
    to_exit_days: Range
    interval_days: int
    """Days between routine shipments at scale 1."""
    laboratory: str


@dataclass(frozen=True, slots=True)
class Site:
    """One mining project of the scenario: where, what, whose, and how it produces and ships."""

    key: str
    province: Province
    district: str
    district_code: str
    serial: int
    names: Names
    minerals: tuple[Mineral, ...]
    firm: Firm
    stage: ProjectStage
    centre: tuple[float, float]
    area_km2: float
    title_type: TitleType
    workforce: tuple[int, int, int]
    """Pakistani, Chinese and local hires at month end, before noise."""
    cpec: bool = False
    production: Production | None = None
    exports: tuple[Export, ...] = ()

    @property
    def project_id(self) -> str:
        return f"PRJ-{self.province.value[3:]}-{self.district_code}-{self.serial:04d}"
