"""An environmental protection order (EPO): one event type with its alert, added through the
registry alone. Its data, who may emit it, its lifecycle step, its timeline line and the alert
to the proponent in English, Simplified Chinese and Urdu, all without a broker."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from consumers.alerts.i18n import FSI, PDI, RLM, render_all
from consumers.alerts.render import alert_of
from consumers.alerts.rules_events import event_notices
from consumers.views.timeline import summary
from schemas.alerts import DeclaredRule, Severity, alert_id
from schemas.authority import competent, decide
from schemas.catalogue import event_types
from schemas.events.approvals_other import ProtectionOrderIssued
from schemas.events.examples import EIA_FILE, OPERATOR
from schemas.events.registry import BY_TOPIC, spec_of
from schemas.lifecycles import refusal_of
from schemas.participants import AuthorityGranted, OrganisationOnboarded
from schemas.registry import Registry
from schemas.topics import APPROVALS
from tests.unit.alerts.world import BA_EPA, MCC, NOW, context, fact

CE_TYPE = "pk.emining.approval.environmental.order.issued.v1"
SD_EPA = "urn:emining:pk:gov:sepa"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
AT = T0 + timedelta(days=30)


def order(**changes: Any) -> ProtectionOrderIssued:
    return ProtectionOrderIssued.model_validate({**ProtectionOrderIssued.EXAMPLE, **changes})


def errors(**changes: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        order(**changes)
    return [e["type"] for e in info.value.errors()]


def test_the_type_is_registered_on_the_approvals_topic_keyed_by_the_epa_file():
    assert event_types()[CE_TYPE] is ProtectionOrderIssued
    assert ProtectionOrderIssued in BY_TOPIC[APPROVALS]
    data = order()
    assert (data.subject, data.scope().province, data.scope().parties) == (
        EIA_FILE, "PK-BA", frozenset({OPERATOR}))
    spec = spec_of(ProtectionOrderIssued)
    assert spec is not None
    assert spec.emitted_by.label == "provincial EPA"


def test_an_order_is_complied_with_after_it_is_issued_and_names_what_to_do():
    assert errors(comply_by="2026-08-10") == ["comply_by_order"]
    assert errors(directions=[]) == ["too_short"]
    assert errors(file_number="BA-EL-2025-0153") == ["environmental_file_format"]
    assert errors(stop_work="perhaps") == ["bool_parsing"]


def _registry() -> Registry:
    reg = Registry()
    for org, role, uscc in ((BA_EPA, "agency", None), (SD_EPA, "agency", None),
                            (MCC, "firm", OPERATOR)):
        reg.apply(OrganisationOnboarded(org_id=org, names={"en": org}, side="PK", role=role,
                                        uscc=uscc), T0)
    for org, grant, province, own in ((BA_EPA, "ba-environment", "PK-BA", False),
                                      (SD_EPA, "sd-environment", "PK-SD", False),
                                      (MCC, "everything-environmental", None, True)):
        reg.apply(AuthorityGranted(
            org_id=org, grant_id=grant, event_types=("pk.emining.approval.environmental.*",),
            provinces=(province,) if province else (), own_only=own, valid_from=T0), T0)
    return reg


def test_the_provinces_epa_may_issue_it_another_province_and_the_firm_may_not():
    reg = _registry()
    assert decide(reg, BA_EPA, order(), AT).allowed
    other = decide(reg, SD_EPA, order(), AT)
    assert (other.allowed, other.reason) == (
        False, (f"{SD_EPA} may not emit {ProtectionOrderIssued.TYPE} here: sd-environment does "
               "not cover PK-BA"))
    firm = decide(reg, MCC, order(), AT)
    assert (firm.allowed, firm.reason) == (
        False, f"{MCC} is a firm: {ProtectionOrderIssued.TYPE} is emitted by the provincial EPA")
    assert competent(reg, order(), AT) == [BA_EPA]


def test_it_follows_an_approval_in_force_and_leaves_its_status():
    assert refusal_of(CE_TYPE, "approved_with_conditions", order()) is None
    assert refusal_of(CE_TYPE, "deemed_approved", order()) is None
    assert refusal_of(CE_TYPE, "filed", order()) == (
        "approval.environmental.order.issued: filed → (no change) is not a step of an "
        "environmental approval (approval.environmental.order.issued follows: approved, "
        "approved_with_conditions, deemed_approved)")
    assert refusal_of(CE_TYPE, None, order()) is not None


def test_the_timeline_says_stop_work_and_the_date():
    assert summary(order()) == "environmental order issued (stop work, comply by 2026-09-09)"
    assert summary(order(stop_work=False)) == "environmental order issued (comply by 2026-09-09)"


def _isolated(*values: str) -> list[str]:
    return [f"{FSI}{v}{PDI}" for v in values]


def test_a_stop_work_order_alerts_the_proponent_critically_in_three_languages():
    ctx = context()
    [notice] = event_notices(fact(order(), source=f"{BA_EPA}/gateway"), ctx)
    assert (notice.rule, notice.recipient, notice.severity, notice.due_on, notice.about) == (
        DeclaredRule("stop_work_order"), MCC, Severity.CRITICAL, date(2026, 9, 9), EIA_FILE)
    assert dict(notice.details) == {"order_ref": "BEPA-EPO-2026-0007",
                                    "comply_by": "2026-09-09", "stop_work": "yes"}
    texts = render_all(notice.message)
    assert texts.en == (
        "Balochistan Environmental Protection Agency ordered MCC Chagai Resources Co., Ltd. to "
        "stop work under environmental impact assessment EIA-BA-2025-0031 by environmental "
        "protection order BEPA-EPO-2026-0007 of 10 August 2026 (directions to comply with: 2). "
        "Work resumes only once the order is complied with; comply by 9 September 2026.")
    assert texts.zh == (
        "俾路支省环境保护局于2026年8月10日发出环境保护令 BEPA-EPO-2026-0007，"  # noqa: RUF001
        "责令中冶查盖资源有限公司停止环境影响评价 EIA-BA-2025-0031 项下的作业"
        "（需遵守的指令：2项）。须遵守该命令后方可复工；请于2026年9月9日前完成整改。")  # noqa: RUF001
    epa, day, ref, firm, kind, file, count, due = _isolated(
        "بلوچستان ماحولیاتی تحفظ ایجنسی", "10 اگست، 2026", "BEPA-EPO-2026-0007",
        "MCC Chagai Resources Co., Ltd.", "ماحولیاتی اثرات کا جائزہ", EIA_FILE, "2",
        "9 ستمبر، 2026")
    assert texts.ur == (
        f"{RLM}{epa} نے {day} کے ماحولیاتی تحفظ کے حکم {ref} کے ذریعے {firm} کو {kind} "
        f"{file} کے تحت کام روکنے کا حکم دیا (قابلِ تعمیل ہدایات: {count})۔ حکم کی تعمیل کے "  # noqa: RUF001
        f"بعد ہی کام دوبارہ شروع ہو سکتا ہے؛ {due} تک تعمیل کریں۔")  # noqa: RUF001
    alert = alert_of(notice, ctx.directory, NOW)  # the signed event the recipient receives
    assert alert.rule.value == "stop_work_order"
    assert alert.alert_id == alert_id(alert.rule, notice.cause.key, MCC)
    assert (alert.language.value, alert.text) == ("zh", texts.zh)


def test_an_order_without_stop_work_is_a_warning_with_its_own_words():
    [notice] = event_notices(fact(order(stop_work=False), source=f"{BA_EPA}/gateway"),
                             context())
    assert (notice.rule.value, notice.recipient, notice.severity) == (
        "protection_order", MCC, Severity.WARNING)
    texts = render_all(notice.message)
    assert texts.en == (
        "Balochistan Environmental Protection Agency issued environmental protection order "
        "BEPA-EPO-2026-0007 on environmental impact assessment EIA-BA-2025-0031 of MCC Chagai "
        "Resources Co., Ltd. on 10 August 2026 (directions to comply with: 2). Comply by 9 "
        "September 2026.")
    assert texts.zh.endswith("发出环境保护令 BEPA-EPO-2026-0007（需遵守的指令：2项）。"  # noqa: RUF001
                             "请于2026年9月9日前完成整改。")
    assert "جاری کیا" in texts.ur
    assert texts.ur.startswith(RLM)


def test_no_one_is_told_about_an_unregistered_proponent():
    stranger = "91330100MA2B7K40CG"  # checksum-valid, not in the demo registry
    assert event_notices(fact(order(proponent_uscc=stranger), source=f"{BA_EPA}/gateway"),
                         context()) == []
