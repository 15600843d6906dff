"""Event rules: each fires for the right recipients with the right text, or stays silent."""

# ruff: noqa: RUF001 - the expected texts are Chinese and Urdu, punctuation included

from __future__ import annotations

from datetime import date, timedelta

from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context, ViewSnapshot, needs
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.alerts.i18n import render_all
from consumers.alerts.rules_events import event_notices
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from schemas.alerts import AlertRule, CauseKind, Severity
from schemas.common import Function, Mineral, Names, Province, Role, Side
from schemas.events import (
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
    DeficiencyNotified,
    EnvironmentalApprovalDecided,
    ExportApprovalDecided,
    LicenceCancelled,
    LicenceGranted,
    LicenceRefused,
    ProjectRegistered,
    ShipmentDeparted,
)
from schemas.participants import FunctionsAssigned, OrganisationOnboarded
from tests.unit.alerts import world
from tests.unit.alerts.world import (
    BA_EPA,
    BA_MMDD,
    CUSTOMS,
    HUAYE,
    MCC,
    MCC_EN,
    MCC_ZH,
    MMDD_EN,
    MMDD_UR,
    MMDD_ZH,
    NOW,
    context,
    fact,
    iso,
    urdu,
)
from tests.unit.helpers import example

EXPORTER = "91650100MA7XK3P2LA"


def test_licence_granted_tells_the_holder_in_three_languages() -> None:
    [notice] = event_notices(fact(example(LicenceGranted)), context())
    texts = render_all(notice.message)
    assert (notice.rule, notice.recipient, notice.about) == (
        AlertRule.APPROVAL_DECIDED, MCC, "BA-EL-2025-0153")
    assert notice.severity is Severity.INFO
    assert notice.cause.kind is CauseKind.EVENT
    assert notice.cause.key == f"{BA_MMDD}/gateway#evt-1"
    assert dict(notice.details) == {"decision": "granted", "decided_on": "2026-02-01"}
    assert texts.en == (f"Exploration licence BA-EL-2025-0153 was granted by {MMDD_EN} on "
                        "1 February 2026.")
    assert texts.zh == f"勘探许可证 BA-EL-2025-0153 已由{MMDD_ZH}于2026年2月1日批准。"
    assert texts.ur == urdu(f"{iso('ایکسپلوریشن لائسنس')} {iso('BA-EL-2025-0153')}: "
                            f"{iso(MMDD_UR)} نے {iso('1 فروری، 2026')} کو فیصلہ کیا — "
                            f"{iso('منظور')}۔")


def test_refusal_carries_the_appeal_deadline_and_warns() -> None:
    [notice] = event_notices(fact(example(LicenceRefused)), context())
    assert notice.due_on == date(2026, 3, 3)
    assert notice.severity is Severity.WARNING
    assert render_all(notice.message).zh == (
        f"勘探许可证 BA-EL-2025-0153 已由{MMDD_ZH}于2026年2月1日拒绝。")


def test_cancellation_is_critical() -> None:
    [notice] = event_notices(fact(example(LicenceCancelled)), context())
    assert (notice.severity, notice.details["decision"]) == (Severity.CRITICAL, "cancelled")
    assert render_all(notice.message).en.endswith("was cancelled by "
                                                  f"{MMDD_EN} on 30 June 2027.")


def test_environmental_decision_tells_the_proponent() -> None:
    notice, = event_notices(fact(example(EnvironmentalApprovalDecided),
                                 source=f"{BA_EPA}/gw"), context())
    texts = render_all(notice.message)
    assert notice.recipient == MCC
    assert texts.en == ("Environmental impact assessment EIA-BA-2025-0031 was approved with "
                        "conditions by Balochistan Environmental Protection Agency on "
                        "30 March 2026.")
    assert texts.zh == ("环境影响评价 EIA-BA-2025-0031 已由俾路支省环境保护局于2026年3月30日"
                        "附条件批准。")


def test_export_approval_names_the_issuing_agency_not_the_relay() -> None:
    notice, = event_notices(fact(example(ExportApprovalDecided),
                                 source="urn:emining:pk:gov:psw/gw"), context())
    assert render_all(notice.message).en == (
        f"Export NOC LPCO-2026-000457 was approved by {MMDD_EN} on 2 April 2026.")


def test_a_submitted_lpco_is_not_a_decision() -> None:
    data = example(ExportApprovalDecided, status="submitted", valid_until=None)
    assert event_notices(fact(data), context()) == []


def test_deficiency_tells_the_applicant_its_respond_by_date() -> None:
    [notice] = event_notices(fact(example(DeficiencyNotified)), context())
    texts = render_all(notice.message)
    assert (notice.recipient, notice.due_on) == (MCC, date(2025, 12, 20))
    assert texts.en == (f"{MMDD_EN} found application BA-EL-2025-0153 incomplete (notice "
                        "MMDD-DN-2025-211, items to address: 2). Respond by 20 December 2025.")
    assert texts.zh == (f"{MMDD_ZH}认定申请 BA-EL-2025-0153 材料不全（通知 MMDD-DN-2025-211，"
                        "需补正事项：2）。请于2025年12月20日前答复。")
    assert texts.ur == urdu(f"{iso(MMDD_UR)} نے درخواست {iso('BA-EL-2025-0153')} کو نامکمل "
                            f"قرار دیا (نوٹس {iso('MMDD-DN-2025-211')}، قابلِ اصلاح نکات: "
                            f"{iso('2')})۔ {iso('20 دسمبر، 2025')} تک جواب دیں۔")


def _lpco(**changes: object) -> ApprovalView:
    view = ApprovalView(ref="LPCO-2026-000457", kind=ApprovalKind.EXPORT,
                        holder_uscc=EXPORTER, status=ApprovalStatus.APPROVED,
                        expires_on=date(2026, 7, 1), updated_at=NOW)
    return view.model_copy(update=changes)


def test_declaration_with_a_valid_approval_is_silent() -> None:
    views = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco()})
    assert event_notices(fact(example(CustomsDeclarationFiled)), context(views=views)) == []


def test_declaration_without_approval_tells_customs_and_the_shipper() -> None:
    data = example(CustomsDeclarationFiled, export_approvals=[])
    notices = event_notices(fact(data, source=f"{MCC}/gw"), context())
    assert [n.recipient for n in notices] == [CUSTOMS, MCC]
    texts = render_all(notices[0].message)
    assert notices[0].severity is Severity.CRITICAL
    assert texts.en == ("Customs declaration KPQE-SB-0012345-14042026 for shipment "
                        f"SHP-2026-000123 of {MCC_EN} relies on no valid export approval: no "
                        "export approval is cited.")
    assert texts.zh == (f"{MCC_ZH}货物 SHP-2026-000123 的报关单 KPQE-SB-0012345-14042026 "
                        "没有有效的出口批准：未引用任何出口批准。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی کھیپ {iso('SHP-2026-000123')} کے کسٹمز "
                            f"ڈیکلریشن {iso('KPQE-SB-0012345-14042026')} کے ساتھ کوئی درست "
                            f"برآمدی منظوری نہیں: {iso('کوئی برآمدی منظوری درج نہیں')}۔")


def test_customs_is_found_by_its_function_not_by_a_fixed_id() -> None:
    """An organisation onboarded as customs under any id is told; one that lost the function
    no longer is; the alert config may still add an id."""
    registry = world.registry()
    newcomer = "urn:emining:pk:gov:fbr-customs-khi"
    registry.apply(OrganisationOnboarded(org_id=newcomer, names=Names(en="Customs, Karachi"),
                                         side=Side.PK, role=Role.AGENCY,
                                         functions=(Function.CUSTOMS,)), world.NOW)
    registry.apply(FunctionsAssigned(org_id=CUSTOMS, functions=()), world.NOW)
    config = AlertConfig(customs=(world.SIFC,))
    ctx = Context(now=world.NOW, config=config, directory=Directory(registry, config),
                  views=ViewSnapshot(), subscriptions=())
    data = example(CustomsDeclarationFiled, export_approvals=[])
    notices = event_notices(fact(data, source=f"{MCC}/gw"), ctx)
    assert [n.recipient for n in notices] == [newcomer, world.SIFC, MCC]


def test_declaration_citing_an_expired_or_foreign_approval_is_flagged() -> None:
    data = example(CustomsDeclarationFiled)
    expired = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco(expires_on=date(2026, 4, 1))})
    foreign = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco(
        holder_uscc="91310000MA1FL8QW3Y")})
    rejected = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco(
        status=ApprovalStatus.REJECTED)})
    problems = [event_notices(fact(data), context(views=v))[0].details["problem"]
                for v in (expired, foreign, rejected, ViewSnapshot())]
    assert problems == ["expired", "other_exporter", "not_approved", "unknown"]


def test_an_amended_declaration_is_held_to_the_same_rule_on_its_own_day() -> None:
    data = example(CustomsDeclarationAmended)  # amended on 14 April 2026
    valid = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco()})
    assert event_notices(fact(data), context(views=valid)) == []
    lapsed = ViewSnapshot(approvals={"LPCO-2026-000457": _lpco(expires_on=date(2026, 4, 13))})
    notices = event_notices(fact(data, source=f"{MCC}/gw"), context(views=lapsed))
    assert [n.recipient for n in notices] == [CUSTOMS, MCC]
    assert notices[0].details["problem"] == "expired"
    assert notices[0].rule is AlertRule.EXPORT_WITHOUT_APPROVAL
    assert event_notices(fact(data), context())[0].details["problem"] == "unknown"


def test_the_approvals_a_declaration_cites_are_read_for_its_rule_filed_or_amended() -> None:
    """The stage loads only the approval views ``needs`` names: an amendment's LPCO left out,
    every amended declaration was flagged "unknown approval" to Customs and the exporter."""
    for data in (example(CustomsDeclarationFiled), example(CustomsDeclarationAmended)):
        assert needs(fact(data)).approvals == {"LPCO-2026-000457"}


def test_customs_hold_tells_both_sides() -> None:
    notices = event_notices(fact(example(CustomsHeld), source=f"{CUSTOMS}/gw"), context())
    assert [n.recipient for n in notices] == [CUSTOMS, MCC]
    assert notices[0].alert_id != notices[1].alert_id
    texts = render_all(notices[1].message)
    assert texts.en == (f"Shipment SHP-2026-000123 of {MCC_EN} is held by Pakistan Customs "
                        "(FBR) since 14 April 2026, 11:30 PKT (declaration "
                        "KPQE-SB-0012345-14042026): sampling.")
    assert texts.zh == (f"{MCC_ZH}的货物 SHP-2026-000123 自2026年4月14日 11:30（巴基斯坦时间）"
                        "起被巴基斯坦海关扣留（报关单 KPQE-SB-0012345-14042026）：取样检验。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی کھیپ {iso('SHP-2026-000123')} کو "
                            f"{iso('پاکستان کسٹمز')} نے "
                            f"{iso('14 اپریل، 2026 11:30 (پاکستانی وقت)')} سے روک رکھا ہے "
                            f"(ڈیکلریشن {iso('KPQE-SB-0012345-14042026')}): "
                            f"{iso('نمونہ گیری')}۔")


def _subscription(org: str, **dims: frozenset[object]) -> Subscription:
    return Subscription(id=f"sub-{org[-4:]}", org=org, **dims)  # type: ignore[arg-type]


def test_new_project_tells_matching_subscribers_only() -> None:
    subs = (
        _subscription(HUAYE, minerals=frozenset({Mineral.GOLD}),
                      provinces=frozenset({Province.BALOCHISTAN})),
        _subscription("urn:emining:cn:ent:zhob-chrome", minerals=frozenset({Mineral.CHROMITE})),
        _subscription(MCC),  # the operator itself: it knows its own project
    )
    notices = event_notices(fact(example(ProjectRegistered), source=f"{MCC}/gw"),
                            context(subscriptions=subs))
    assert [n.recipient for n in notices] == [HUAYE]
    texts = render_all(notices[0].message)
    assert texts.en == ("New project Chagai North Copper-Gold Project (PRJ-BA-CHG-0007) in "
                        "Balochistan: copper and gold, feasibility stage, operated by Xinjiang "
                        "Example Mining Co., Ltd.")
    assert texts.zh == ("新项目查盖北铜金项目（PRJ-BA-CHG-0007）位于俾路支省：铜和金，"
                        "可行性研究阶段，运营方为新疆示例矿业有限公司。")
    assert texts.ur == urdu(f"نیا منصوبہ {iso('Chagai North Copper-Gold Project')} "
                            f"({iso('PRJ-BA-CHG-0007')})، {iso('بلوچستان')} میں: "
                            f"{iso('تانبا اور سونا')}، مرحلہ {iso('فزیبلٹی')}، آپریٹر "
                            f"{iso('Xinjiang Example Mining Co., Ltd.')}۔")


def test_two_subscriptions_of_one_firm_give_one_alert() -> None:
    subs = (_subscription(HUAYE), Subscription(id="other", org=HUAYE))
    notices = event_notices(fact(example(ProjectRegistered), source=f"{MCC}/gw"),
                            context(subscriptions=subs))
    assert [n.recipient for n in notices] == [HUAYE]


def test_events_older_than_the_horizon_are_silent() -> None:
    old = fact(example(LicenceGranted), time=NOW - timedelta(days=15))
    assert event_notices(old, context()) == []
    assert len(event_notices(old, context(max_event_age_days=None))) == 1


def test_unregistered_holder_and_plain_events_are_silent() -> None:
    stranger = example(LicenceGranted, holder_uscc="91320000MA1Q7R5T82")
    assert stranger.holder_uscc not in {o.uscc for o in context().directory.registry.orgs.values()}
    assert event_notices(fact(stranger), context()) == []
    assert event_notices(fact(example(ShipmentDeparted), source=f"{MCC}/gw"), context()) == []


def test_a_function_nobody_has_is_reported_when_the_rules_start() -> None:
    registry = world.registry()
    assert Directory(registry, AlertConfig()).unserved() == []
    for org in (world.SOST,):
        registry.apply(FunctionsAssigned(org_id=org, functions=()), world.NOW)
    assert Directory(registry, AlertConfig()).unserved() == [Function.BORDER_POST]
    assert Directory(registry, AlertConfig(border=(world.SOST,))).unserved() == []
