"""A report with something in every section, for the page's tests (unit and browser): agencies
with long names in three languages, titles, an EIA and export NOCs against their standards,
shipments through every exit point, a project's timeline, and findings (violations and a
warning)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from consumers.audit.dataset import Dataset, Entry
from consumers.audit.findings import Finding, Kind, VerifyReport
from consumers.audit.report import Report, build_report
from consumers.views.models import (
    ApprovalKind,
    ApprovalStatus,
    ApprovalView,
    ProjectView,
    ShipmentView,
)
from schemas.common import Names, Province, TitleType
from schemas.events.projects import ProjectStage
from schemas.measures import Quantity
from schemas.standards import Standards

BA = "urn:emining:pk:gov:ba-mmdd"
EPA = "urn:emining:pk:gov:ba-epa"
MOC = "urn:emining:pk:gov:moc-tdap"
USCC = "91650100MA7XK3P2LA"
RECEIVED = datetime(2025, 1, 6, 5, tzinfo=UTC)
NOW = datetime(2025, 12, 31, tzinfo=UTC)
PROJECT = "PRJ-2025-0001"

NAMES = {
    BA: {"en": "Mines & Minerals Development Department, Government of Balochistan",
         "zh": "俾路支省政府矿产资源开发厅", "ur": "محکمہ معدنیات و ترقی معدنیات، حکومت بلوچستان"},
    EPA: {"en": "Balochistan Environmental Protection Agency",
          "zh": "俾路支省环境保护局", "ur": "بلوچستان ماحولیاتی تحفظ ایجنسی"},
    MOC: {"en": "Trade Development Authority of Pakistan, Ministry of Commerce",
          "zh": "巴基斯坦商务部贸易发展局", "ur": "ٹریڈ ڈیولپمنٹ اتھارٹی آف پاکستان، وزارت تجارت"},
    USCC: {"en": "MCC Chagai Resources Co., Ltd.", "zh": "中冶恰盖资源有限公司",
           "ur": "ایم سی سی چاغی ریسورسز کمپنی لمیٹڈ"},
}
BOUNDARY = [{"lat": "29.0", "lon": "61.8"}, {"lat": "29.1", "lon": "61.9"},
            {"lat": "29.0", "lon": "61.95"}, {"lat": "29.0", "lon": "61.8"}]


def _file(ref: str, kind: ApprovalKind, authority: str, lead_days: int | None,
          **fields: object) -> ApprovalView:
    decided = None if lead_days is None else RECEIVED + timedelta(days=lead_days)
    status = (ApprovalStatus.ACKNOWLEDGED if decided is None else
              ApprovalStatus.GRANTED if kind is ApprovalKind.TITLE else ApprovalStatus.APPROVED)
    return ApprovalView(
        ref=ref, kind=kind, holder_uscc=USCC, status=status, authority=authority,
        province=Province.BALOCHISTAN, received_at=RECEIVED, decided_at=decided,
        updated_at=decided or RECEIVED, project_id=PROJECT, **fields)


def _title(n: int, lead_days: int | None) -> ApprovalView:
    decided = None if lead_days is None else RECEIVED + timedelta(days=lead_days)
    return _file(f"BA-EL-2025-{n:04d}", ApprovalKind.TITLE, BA, lead_days,
                 title_type=TitleType.EXPLORATION_LICENCE, minerals=("copper", "gold"),
                 granted_on=decided.date() if decided else None, area_km2=Decimal("12.5"))


def _entry(subject: str, type_name: str, data: dict[str, object], days: int = 0) -> Entry:
    return Entry(subject, 1, type_name, RECEIVED + timedelta(days=days), f"{BA}/app", type_name,
                 data, correction=False)


def _shipment(n: int, exit_point: str, product: str, dmt: int) -> ShipmentView:
    return ShipmentView(
        shipment_id=f"SHP-2025-{n:06d}", exporter_uscc=USCC, product=product,
        hs_code="26030000" if product == "copper_concentrate" else "71081200",
        exit_point=exit_point, updated_at=NOW, project_id=PROJECT,
        quantity=Quantity(wmt=Decimal(dmt), moisture_pct=Decimal(0), dmt=Decimal(dmt)))


def dataset() -> Dataset:
    files = [_title(1, 10), _title(2, 20), _title(3, 90), _title(4, 40), _title(5, None),
             _file("EIA-BA-2025-0001", ApprovalKind.ENVIRONMENTAL, EPA, 150, assessment="EIA"),
             _file("LPCO-2025-0001", ApprovalKind.EXPORT, MOC, 3, lpco_type="export_noc"),
             _file("LPCO-2025-0002", ApprovalKind.EXPORT, MOC, 12, lpco_type="export_noc")]
    shipments = [_shipment(1, "port_qasim", "copper_concentrate", 915),
                 _shipment(2, "sost_khunjerab", "copper_concentrate", 2400),
                 _shipment(3, "karachi_port", "gold_dore", 2)]
    first = files[0].ref
    timelines = {
        first: [_entry(first, "approval.licence.application.received",
                       {"boundary": BOUNDARY, "district": "Chagai"}),
                _entry(first, "approval.licence.granted", {"term_years": 3}, days=10)],
        PROJECT: [_entry(PROJECT, "project.registered", {}, days=-30)],
        shipments[1].shipment_id: [_entry(shipments[1].shipment_id, "shipment.planned", {},
                                          days=200)],
    }
    for items in timelines.values():
        items[:] = [Entry(e.subject, e.position, e.type, e.time, e.source,
                          e.type.replace(".", " "), e.data, e.correction) for e in items]
    project = ProjectView(project_id=PROJECT, operator_uscc=USCC,
                          province=Province.BALOCHISTAN, stage=ProjectStage.CONSTRUCTION,
                          names=Names(en="Saindak East copper-gold project",
                                      zh="山达克东铜金项目", ur="سینڈک ایسٹ تانبا سونا منصوبہ"),
                          titles=(first,), updated_at=NOW)
    return Dataset(projects={PROJECT: project}, approvals={f.ref: f for f in files},
                   shipments={s.shipment_id: s for s in shipments}, timelines=timelines,
                   names={party: names["en"] for party, names in NAMES.items()},
                   local_names=NAMES)


def _finding(kind: Kind, offset: int) -> Finding:
    return Finding("emining.approvals.v1", 3, offset, f"evt-{offset}", f"{BA}/app", kind,
                   f"{kind.value} at offset {offset}")


def verify_report() -> VerifyReport:
    """Five violations and one warning: six findings, as the issue saw them."""
    kinds = [Kind.BAD_SIGNATURE, Kind.BAD_SIGNATURE, Kind.UNAUTHORISED, Kind.SEQUENCE_GAP,
             Kind.TIME_SKEW, Kind.REDELIVERY]
    return VerifyReport(records=321, events=315, sources=7,
                        findings=[_finding(kind, 10 + i) for i, kind in enumerate(kinds)])


def report() -> Report:
    return build_report(dataset(), standards=Standards(), as_of=None, digest="d" * 64,
                        records=321, verify=verify_report(), now=NOW)
