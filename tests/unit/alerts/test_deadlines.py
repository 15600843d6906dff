"""Deadline rules: what each view schedules, and what fires (or not) when the clock gets there."""

# ruff: noqa: RUF001 - the expected texts are Chinese and Urdu, punctuation included

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from consumers.alerts.config import AlertConfig
from consumers.alerts.context import ViewSnapshot
from consumers.alerts.deadlines import fire, schedule
from consumers.alerts.directory import Directory
from consumers.alerts.i18n import render_all
from consumers.alerts.model import Deadline, Notice
from consumers.alerts.render import alert_of
from consumers.views.models import (
    ApprovalKind,
    ApprovalStatus,
    ApprovalView,
    ProjectView,
    ShipmentStatus,
    ShipmentView,
)
from consumers.views.standing import standard_due_on
from schemas.alerts import AlertRule, CauseKind, Severity
from schemas.common import Province
from schemas.events.projects import ProjectStage
from schemas.events.shipments import ExitPoint
from tests.unit.alerts.world import (
    BA_EPA,
    BA_MMDD,
    BOI,
    MCC,
    MCC_EN,
    MCC_ZH,
    NOW,
    REGISTRY,
    SIFC,
    SOST,
    context,
    iso,
    urdu,
)

USCC = "91650100MA7XK3P2LA"
REF = "BA-EL-2025-0153"
S = ApprovalStatus


def title(**changes: object) -> ApprovalView:
    view = ApprovalView(ref=REF, kind=ApprovalKind.TITLE, holder_uscc=USCC,
                        status=S.GRANTED, authority=BA_MMDD, title_type="EL",
                        province=Province.BALOCHISTAN, granted_on=date(2026, 2, 1),
                        expires_on=date(2029, 1, 31), project_id="PRJ-BA-CHG-0007",
                        due={"work_commencement_due": date(2026, 8, 1),
                             "expires_on": date(2029, 1, 31)},
                        updated_at=NOW)
    return view.model_copy(update=changes)


def at(moment: datetime, *views: ApprovalView | ShipmentView | ProjectView) -> tuple:
    snapshot = ViewSnapshot(
        approvals={v.ref: v for v in views if isinstance(v, ApprovalView)},
        shipments={v.shipment_id: v for v in views if isinstance(v, ShipmentView)},
        projects={v.project_id: v for v in views if isinstance(v, ProjectView)})
    return (context(moment, views=snapshot),)


def fired(view: ApprovalView | ShipmentView, moment: datetime, *others: ProjectView,
          rule: AlertRule, approvals: tuple[ApprovalView, ...] = ()) -> list[Notice]:
    (ctx,) = at(moment, view, *others, *approvals)
    return [n for d in schedule(view, ctx.config) if d.rule is rule for n in fire(d, ctx)]


def pkt(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """Midnight (or ``hour``) in Pakistan on a day, as UTC."""
    return datetime(year, month, day, hour, tzinfo=UTC) - timedelta(hours=5)


def test_a_granted_title_schedules_commencement_and_three_expiry_reminders() -> None:
    deadlines = schedule(title(), context().config)
    assert [(d.rule, d.fires_at, d.key) for d in deadlines] == [
        (AlertRule.WORK_NOT_COMMENCED, pkt(2026, 8, 2), f"work_not_commenced:{REF}:2026-08-01"),
        (AlertRule.LICENCE_EXPIRING, pkt(2028, 11, 2),
         f"licence_expiring:{REF}:2029-01-31:90"),
        (AlertRule.LICENCE_EXPIRING, pkt(2029, 1, 1), f"licence_expiring:{REF}:2029-01-31:30"),
        (AlertRule.LICENCE_EXPIRING, pkt(2029, 1, 24), f"licence_expiring:{REF}:2029-01-31:7"),
    ]


def test_expiry_reminder_tells_the_holder_with_days_left() -> None:
    [notice] = fired(title(), pkt(2029, 1, 1, 9), rule=AlertRule.LICENCE_EXPIRING)
    texts = render_all(notice.message)
    assert (notice.recipient, notice.severity, notice.due_on) == (
        MCC, Severity.WARNING, date(2029, 1, 31))
    assert notice.cause.kind is CauseKind.DEADLINE
    assert notice.cause.key == f"licence_expiring:{REF}:2029-01-31:30"
    assert texts.en == (f"Exploration licence {REF} expires on 31 January 2029 (days left: 30). "
                        "Apply for renewal before it expires.")
    assert texts.zh == (f"勘探许可证 {REF} 将于2029年1月31日到期（剩余天数：30）。"
                        "请在到期前申请续期。")
    assert texts.ur == urdu(f"{iso('ایکسپلوریشن لائسنس')} {iso(REF)} کی میعاد "
                            f"{iso('31 جنوری، 2029')} کو ختم ہو رہی ہے (باقی دن: {iso('30')})۔ "
                            "میعاد ختم ہونے سے پہلے تجدید کی درخواست دیں۔")


def test_only_the_latest_due_expiry_reminder_fires_and_none_before_or_after() -> None:
    rule = AlertRule.LICENCE_EXPIRING
    assert fired(title(), pkt(2028, 11, 1, 23), rule=rule) == []
    assert [n.severity for n in fired(title(), pkt(2028, 11, 2), rule=rule)] == [Severity.INFO]
    assert [n.cause.key[-2:] for n in fired(title(), pkt(2029, 1, 25), rule=rule)] == [":7"]
    assert fired(title(), pkt(2029, 1, 31), rule=rule) == []  # expired: too late to remind


def test_renewal_applied_or_renewed_title_is_not_reminded_of_the_old_expiry() -> None:
    rule = AlertRule.LICENCE_EXPIRING
    assert fired(title(status=S.RENEWAL_APPLIED), pkt(2029, 1, 2), rule=rule) == []
    renewed = title(expires_on=date(2032, 1, 31))
    deadline = Deadline(rule, REF, pkt(2029, 1, 1), date(2029, 1, 31),
                        f"licence_expiring:{REF}:2029-01-31:30", {"days": "30"})
    assert fire(deadline, *at(pkt(2029, 1, 2), renewed)) == []


def test_work_not_commenced_tells_holder_and_authority() -> None:
    notices = fired(title(), pkt(2026, 8, 2, 1), rule=AlertRule.WORK_NOT_COMMENCED)
    assert [n.recipient for n in notices] == [MCC, BA_MMDD]
    texts = render_all(notices[0].message)
    assert texts.en == (f"Work under exploration licence {REF} of {MCC_EN}, granted on "
                        "1 February 2026, was due to commence by 1 August 2026; no commencement "
                        "has been reported.")
    assert texts.zh == (f"{MCC_ZH}的勘探许可证 {REF} 于2026年2月1日授予，应于2026年8月1日前开工，"
                        "至今未报告开工。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کے {iso('ایکسپلوریشن لائسنس')} {iso(REF)} پر، جو "
                            f"{iso('1 فروری، 2026')} کو دیا گیا، کام {iso('1 اگست، 2026')} تک "
                            "شروع ہونا تھا؛ آغاز کی کوئی اطلاع نہیں ملی۔")


def test_work_not_commenced_is_silent_when_the_project_shows_work() -> None:
    project = ProjectView(project_id="PRJ-BA-CHG-0007", operator_uscc=USCC,
                          province=Province.BALOCHISTAN, stage=ProjectStage.CONSTRUCTION,
                          updated_at=NOW)
    assert fired(title(), pkt(2026, 8, 3), project, rule=AlertRule.WORK_NOT_COMMENCED) == []
    assert fired(title(status=S.SURRENDERED), pkt(2026, 8, 3),
                 rule=AlertRule.WORK_NOT_COMMENCED) == []


def test_work_not_commenced_is_silent_once_commencement_is_reported() -> None:
    commenced = title(work_commenced_on=date(2026, 7, 20))
    assert fired(commenced, pkt(2026, 8, 3), rule=AlertRule.WORK_NOT_COMMENCED) == []
    deadline = Deadline(AlertRule.WORK_NOT_COMMENCED, REF, pkt(2026, 8, 2), date(2026, 8, 1),
                        f"work_not_commenced:{REF}:2026-08-01")
    assert fire(deadline, *at(pkt(2026, 8, 3), commenced)) == []  # scheduled before the report


def application(**changes: object) -> ApprovalView:
    view = title(status=S.RESUBMITTED, granted_on=None, expires_on=None, due={},
                 received_at=datetime(2025, 11, 3, 5, 12, 40, tzinfo=UTC),
                 time_in_state={"deficient": 25 * 86400})
    return view.model_copy(update=changes)


def test_service_standard_excludes_days_waiting_on_the_applicant() -> None:
    [deadline] = schedule(application(), context().config)
    # received 3 November (PKT) + 25 days deficient + 60: due 27 January, overdue from the 28th
    assert (deadline.due_on, deadline.fires_at) == (date(2026, 1, 27), pkt(2026, 1, 28))
    assert deadline.key == f"application_overdue:{REF}:2026-01-27"
    longer = schedule(application(), context(service_standard_days={"EL": 90}).config)
    assert (longer[0].due_on, longer[0].fires_at) == (date(2026, 2, 26), pkt(2026, 2, 27))
    # an override of one type keeps the others' defaults
    [kept] = schedule(application(), context(service_standard_days={"ML": 120}).config)
    assert kept.due_on == date(2026, 1, 27)


def test_the_alert_and_the_view_share_one_due_date() -> None:
    """The deadline is the view's own ``standard_due_on``: a date the authority stated when it
    acknowledged the application wins over the table, in the alert as in the view."""
    stated = application(due={"decision_due_on": date(2026, 3, 10)})
    [deadline] = schedule(stated, context().config)
    assert (deadline.due_on, deadline.fires_at) == (date(2026, 3, 10), pkt(2026, 3, 11))
    assert standard_due_on(stated) == date(2026, 3, 10)
    assert standard_due_on(application()) == schedule(application(), context().config)[0].due_on
    [notice] = [n for n in fired(stated, pkt(2026, 3, 12, 9),
                                 rule=AlertRule.APPLICATION_OVERDUE) if n.recipient == BA_MMDD]
    assert notice.due_on == date(2026, 3, 10)
    assert "service standard of 127 days (days overdue: 2)" in render_all(notice.message).en
    assert fired(stated, pkt(2026, 3, 10, 23), rule=AlertRule.APPLICATION_OVERDUE) == []


def test_overdue_application_tells_authority_and_facilitation_bodies() -> None:
    notices = fired(application(), pkt(2026, 2, 1, 11), rule=AlertRule.APPLICATION_OVERDUE)
    assert [n.recipient for n in notices] == [BA_MMDD, BOI, SIFC]  # functions, by id
    assert notices[0].due_on == date(2026, 1, 27)
    texts = render_all(notices[0].message)
    assert texts.en == (f"Application {REF} (exploration licence) by {MCC_EN}, received on "
                        "3 November 2025, is still undecided past its service standard of "
                        "60 days (days overdue: 5).")
    assert texts.zh == (f"{MCC_ZH}于2025年11月3日提交的勘探许可证申请 {REF} 已超过60天的服务时限"
                        "仍未决定（逾期天数：5）。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی {iso('ایکسپلوریشن لائسنس')} کی درخواست "
                            f"{iso(REF)}، موصولہ {iso('3 نومبر، 2025')}، {iso('60')} دن کی "
                            "مقررہ مدت کے بعد بھی فیصلے کی منتظر ہے (تاخیر کے دن: "
                            f"{iso('5')})۔")


def test_no_service_standard_while_deficient_or_decided() -> None:
    config = context().config
    assert schedule(application(status=S.DEFICIENT), config) == []
    assert schedule(application(status=S.REFUSED), config) == []


def test_deficiency_reminder_fires_days_before_respond_by_while_unanswered() -> None:
    view = application(status=S.DEFICIENT, state_since=datetime(2025, 11, 20, tzinfo=UTC),
                       due={"respond_by": date(2025, 12, 20)})
    [notice] = fired(view, pkt(2025, 12, 17, 8), rule=AlertRule.DEFICIENCY_DUE_SOON)
    texts = render_all(notice.message)
    assert (notice.recipient, notice.due_on) == (MCC, date(2025, 12, 20))
    assert texts.en == (f"Reminder: answer the deficiency notice on application {REF} by "
                        "20 December 2025 (days left: 3).")
    assert texts.zh == f"提醒：请于2025年12月20日前答复申请 {REF} 的补正通知（剩余天数：3）。"
    assert texts.ur == urdu(f"یاد دہانی: درخواست {iso(REF)} پر خامیوں کے نوٹس کا جواب "
                            f"{iso('20 دسمبر، 2025')} تک دیں (باقی دن: {iso('3')})۔")
    assert fired(view, pkt(2025, 12, 21), rule=AlertRule.DEFICIENCY_DUE_SOON) == []
    answered = view.model_copy(update={"status": S.RESUBMITTED, "due": {}})
    assert fired(answered, pkt(2025, 12, 17, 8), rule=AlertRule.DEFICIENCY_DUE_SOON) == []


def environmental(**changes: object) -> ApprovalView:
    view = ApprovalView(ref="EIA-BA-2025-0031", kind=ApprovalKind.ENVIRONMENTAL,
                        holder_uscc=USCC, status=S.FILED, authority=BA_EPA, assessment="EIA",
                        due={"deemed_approval_on": date(2026, 4, 22)}, updated_at=NOW)
    return view.model_copy(update=changes)


def test_undecided_environmental_filing_is_deemed_approved_to_both_sides() -> None:
    rule = AlertRule.DEEMED_APPROVAL
    assert fired(environmental(), pkt(2026, 4, 21, 23), rule=rule) == []
    notices = fired(environmental(), pkt(2026, 4, 22), rule=rule)
    assert [n.recipient for n in notices] == [BA_EPA, MCC]
    texts = render_all(notices[1].message)
    assert texts.en == ("Environmental impact assessment EIA-BA-2025-0031 of "
                        f"{MCC_EN} received no decision from Balochistan Environmental "
                        "Protection Agency within 4 months of being complete: it is deemed "
                        "approved as of 22 April 2026.")
    assert texts.zh == (f"{MCC_ZH}的环境影响评价 EIA-BA-2025-0031 材料齐全后4个月内"
                        "俾路支省环境保护局未作决定，自2026年4月22日起视为批准。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی {iso('ماحولیاتی اثرات کا جائزہ')} "
                            f"{iso('EIA-BA-2025-0031')} پر مکمل ہونے کے {iso('4')} ماہ میں "
                            f"{iso('بلوچستان ماحولیاتی تحفظ ایجنسی')} نے فیصلہ نہیں کیا: "
                            f"{iso('22 اپریل، 2026')} سے اسے منظور تصور کیا جاتا ہے۔")
    assert fired(environmental(status=S.APPROVED), pkt(2026, 4, 22), rule=rule) == []


def shipment(**changes: object) -> ShipmentView:
    view = ShipmentView(shipment_id="SHP-2026-000124", exporter_uscc=USCC,
                        exit_point=ExitPoint.SOST_KHUNJERAB, status=ShipmentStatus.CLEARED,
                        cleared_at=datetime(2026, 6, 1, 4, 0, tzinfo=UTC), updated_at=NOW)
    return view.model_copy(update=changes)


def test_border_crossing_overdue_tells_exporter_and_border_post() -> None:
    rule = AlertRule.BORDER_OVERDUE
    assert fired(shipment(), datetime(2026, 6, 3, 3, 59, tzinfo=UTC), rule=rule) == []
    notices = fired(shipment(), datetime(2026, 6, 3, 4, 0, tzinfo=UTC), rule=rule)
    assert [n.recipient for n in notices] == [MCC, SOST]
    texts = render_all(notices[0].message)
    assert texts.en == (f"Shipment SHP-2026-000124 of {MCC_EN} cleared customs at Sost on "
                        "1 June 2026, 09:00 PKT but has not crossed the Khunjerab Pass within "
                        "48 hours.")
    assert texts.zh == (f"{MCC_ZH}的货物 SHP-2026-000124 已于2026年6月1日 09:00（巴基斯坦时间）"
                        "在苏斯特清关，但48小时内仍未通过红其拉甫口岸。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی کھیپ {iso('SHP-2026-000124')} کو "
                            f"{iso('1 جون، 2026 09:00 (پاکستانی وقت)')} کو سست میں کسٹمز "
                            f"کلیئرنس ملی مگر {iso('48')} گھنٹوں میں درہ خنجراب عبور نہیں ہوا۔")
    # Each recipient reads the time where it is: the Chinese exporter in Beijing time.
    directory = Directory(REGISTRY, AlertConfig())
    to_firm, to_post = (alert_of(n, directory, NOW) for n in notices)
    assert "1 June 2026, 12:00 CST (Beijing)" in to_firm.texts.en
    assert "2026年6月1日 12:00（北京时间）" in to_firm.texts.zh
    assert "1 June 2026, 09:00 PKT" in to_post.texts.en
    crossed = shipment(status=ShipmentStatus.CROSSED_BORDER)
    assert fired(crossed, datetime(2026, 6, 4, tzinfo=UTC), rule=rule) == []
    by_sea = shipment(exit_point=ExitPoint.PORT_QASIM)
    assert fired(by_sea, datetime(2026, 6, 4, tzinfo=UTC), rule=rule) == []


def planned(**changes: object) -> ShipmentView:
    return shipment(status=ShipmentStatus.PLANNED, cleared_at=None, hs_code="26030000",
                    exit_point=ExitPoint.PORT_QASIM,
                    planned_departure_on=date(2026, 5, 20)).model_copy(update=changes)


def lpco(ref: str, **changes: object) -> ApprovalView:
    view = ApprovalView(ref=ref, kind=ApprovalKind.EXPORT, holder_uscc=USCC,
                        status=S.APPROVED, lpco_type="export_noc", hs_code="26030000",
                        shipment_id="SHP-2026-000124", expires_on=date(2026, 7, 1),
                        updated_at=NOW)
    return view.model_copy(update=changes)


def test_a_shipment_planned_without_export_approval_warns_its_exporter_early() -> None:
    rule = AlertRule.EXPORT_APPROVAL_MISSING
    [deadline] = [d for d in schedule(planned(), context().config) if d.rule is rule]
    assert (deadline.fires_at, deadline.due_on) == (pkt(2026, 5, 6), date(2026, 5, 20))
    assert fired(planned(), pkt(2026, 5, 5, 23), rule=rule) == []
    pending = lpco("LPCO-2026-000901", status=S.SUBMITTED)
    [notice] = fired(planned(), pkt(2026, 5, 6, 9), rule=rule, approvals=(pending,))
    texts = render_all(notice.message)
    assert (notice.recipient, notice.severity, notice.due_on) == (
        MCC, Severity.WARNING, date(2026, 5, 20))
    assert texts.en == (f"Shipment SHP-2026-000124 of {MCC_EN} is planned to leave on "
                        "20 May 2026, but no approved export approval (LPCO) covers it yet "
                        "(applications pending: 1); customs will not clear its declaration "
                        "without one.")
    assert texts.zh == (f"{MCC_ZH}的货物 SHP-2026-000124 计划于2026年5月20日出运，但尚无已批准的"
                        "出口批准（LPCO）覆盖该批货物（审批中的申请：1）；没有出口批准，海关将不予"
                        "放行。")
    assert texts.ur == urdu(f"{iso(MCC_EN)} کی کھیپ {iso('SHP-2026-000124')} کی روانگی "
                            f"{iso('20 مئی، 2026')} کو طے ہے، مگر ابھی تک کوئی منظور شدہ برآمدی "
                            "منظوری (LPCO) اس پر لاگو نہیں (زیر غور درخواستیں: "
                            f"{iso('1')})؛ اس کے بغیر کسٹمز اس کا ڈیکلریشن کلیئر نہیں کرے گا۔")
    assert len(fired(planned(), pkt(2026, 5, 20, 23), rule=rule)) == 1  # the day itself
    assert fired(planned(), pkt(2026, 5, 21), rule=rule) == []  # a stale plan is not news
    later = context(export_approval_notice_days=30).config
    assert schedule(planned(), later)[0].fires_at == pkt(2026, 4, 20)


def test_no_early_warning_once_an_approval_covers_the_shipment() -> None:
    rule = AlertRule.EXPORT_APPROVAL_MISSING
    moment = pkt(2026, 5, 10, 9)
    named = lpco("LPCO-2026-000902")
    same_goods = lpco("LPCO-2026-000903", shipment_id=None)
    assert fired(planned(), moment, rule=rule, approvals=(named,)) == []
    assert fired(planned(), moment, rule=rule, approvals=(same_goods,)) == []
    uncovered = (
        lpco("LPCO-2026-000904", expires_on=date(2026, 5, 19)),  # lapses before departure
        lpco("LPCO-2026-000905", shipment_id="SHP-2026-000999"),  # another shipment's
        lpco("LPCO-2026-000906", shipment_id=None, hs_code="26100000"),  # other goods
        lpco("LPCO-2026-000907", holder_uscc="91310000MA1FL8QW3Y"),  # another exporter's
        lpco("LPCO-2026-000908", status=S.REJECTED),
    )
    for other in uncovered:
        assert len(fired(planned(), moment, rule=rule, approvals=(other,))) == 1, other.ref
    declared = planned(approvals=("LPCO-2026-000902",))  # the declaration cites one
    assert [d for d in schedule(declared, context().config) if d.rule is rule] == []
    assert [d for d in schedule(planned(status=ShipmentStatus.LOADED), context().config)
            if d.rule is rule] == []
