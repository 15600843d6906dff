"""Alert texts: one template per message, in English, Simplified Chinese and Urdu.

Placeholders are ``str.format`` fields filled by ``consumers.alerts.i18n`` with values already
formatted for the language (dates, numbers and lists by Babel, names from the registry, closed
sets from the glossary). A template that lacks a language fails ``tests/unit/alerts``.
"""

# ruff: noqa: RUF001 - Urdu and Chinese punctuation is the text itself, not a look-alike typo

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from schemas.common import Language

Template = MappingProxyType[Language, str]


def _t(en: str, zh: str, ur: str) -> Template:
    return MappingProxyType({Language.EN: en, Language.ZH: zh, Language.UR: ur})


TEMPLATES: Final = MappingProxyType({
    "approval_decided": _t(
        "{what} {ref} was {decision} by {authority} on {date}.",
        "{what} {ref} 已由{authority}于{date}{decision}。",
        "{what} {ref}: {authority} نے {date} کو فیصلہ کیا — {decision}۔",
    ),
    "deficiency_notified": _t(
        "{authority} found application {ref} incomplete (notice {notice}, items to address: "
        "{count}). Respond by {respond_by}.",
        "{authority}认定申请 {ref} 材料不全（通知 {notice}，需补正事项：{count}）。"
        "请于{respond_by}前答复。",
        "{authority} نے درخواست {ref} کو نامکمل قرار دیا (نوٹس {notice}، قابلِ اصلاح نکات: "
        "{count})۔ "
        "{respond_by} تک جواب دیں۔",
    ),
    "deficiency_due_soon": _t(
        "Reminder: answer the deficiency notice on application {ref} by {respond_by} "
        "(days left: {days}).",
        "提醒：请于{respond_by}前答复申请 {ref} 的补正通知（剩余天数：{days}）。",
        "یاد دہانی: درخواست {ref} پر خامیوں کے نوٹس کا جواب {respond_by} تک دیں (باقی دن: {days})۔",
    ),
    "application_overdue": _t(
        "Application {ref} ({what}) by {applicant}, received on {received}, is still "
        "undecided past its service standard of {standard} days (days overdue: {overdue}).",
        "{applicant}于{received}提交的{what}申请 {ref} 已超过{standard}天的服务时限仍未决定"
        "（逾期天数：{overdue}）。",
        "{applicant} کی {what} کی درخواست {ref}، موصولہ {received}، {standard} دن کی مقررہ مدت "
        "کے بعد بھی فیصلے کی منتظر ہے (تاخیر کے دن: {overdue})۔",
    ),
    "deemed_approval": _t(
        "{assessment} {ref} of {proponent} received no decision from {epa} within {months} "
        "months of being complete: it is deemed approved as of {deemed}.",
        "{proponent}的{assessment} {ref} 材料齐全后{months}个月内{epa}未作决定，"
        "自{deemed}起视为批准。",
        "{proponent} کی {assessment} {ref} پر مکمل ہونے کے {months} ماہ میں {epa} نے فیصلہ نہیں "
        "کیا: {deemed} سے اسے منظور تصور کیا جاتا ہے۔",
    ),
    "licence_expiring": _t(
        "{what} {ref} expires on {expires} (days left: {days}). Apply for renewal before it "
        "expires.",
        "{what} {ref} 将于{expires}到期（剩余天数：{days}）。请在到期前申请续期。",
        "{what} {ref} کی میعاد {expires} کو ختم ہو رہی ہے (باقی دن: {days})۔ میعاد ختم ہونے "
        "سے پہلے تجدید کی درخواست دیں۔",
    ),
    "work_not_commenced": _t(
        "Work under {what} {ref} of {holder}, granted on {granted}, was due to commence by "
        "{due}; no commencement has been reported.",
        "{holder}的{what} {ref} 于{granted}授予，应于{due}前开工，至今未报告开工。",
        "{holder} کے {what} {ref} پر، جو {granted} کو دیا گیا، کام {due} تک شروع ہونا تھا؛ "
        "آغاز کی کوئی اطلاع نہیں ملی۔",
    ),
    "export_without_approval": _t(
        "Customs declaration {declaration} for shipment {shipment} of {exporter} relies on no "
        "valid export approval: {problem}.",
        "{exporter}货物 {shipment} 的报关单 {declaration} 没有有效的出口批准：{problem}。",
        "{exporter} کی کھیپ {shipment} کے کسٹمز ڈیکلریشن {declaration} کے ساتھ کوئی درست "
        "برآمدی منظوری نہیں: {problem}۔",
    ),
    "export_approval_missing": _t(
        "Shipment {shipment} of {exporter} is planned to leave on {departure}, but no approved "
        "export approval (LPCO) covers it yet (applications pending: {pending}); customs will "
        "not clear its declaration without one.",
        "{exporter}的货物 {shipment} 计划于{departure}出运，但尚无已批准的出口批准（LPCO）"
        "覆盖该批货物（审批中的申请：{pending}）；没有出口批准，海关将不予放行。",
        "{exporter} کی کھیپ {shipment} کی روانگی {departure} کو طے ہے، مگر ابھی تک کوئی منظور "
        "شدہ برآمدی منظوری (LPCO) اس پر لاگو نہیں (زیر غور درخواستیں: {pending})؛ اس کے بغیر "
        "کسٹمز اس کا ڈیکلریشن کلیئر نہیں کرے گا۔",
    ),
    "customs_hold": _t(
        "Shipment {shipment} of {exporter} is held by {customs} since {held} (declaration "
        "{declaration}): {reason}.",
        "{exporter}的货物 {shipment} 自{held}起被{customs}扣留（报关单 {declaration}）：{reason}。",
        "{exporter} کی کھیپ {shipment} کو {customs} نے {held} سے روک رکھا ہے (ڈیکلریشن "
        "{declaration}): {reason}۔",
    ),
    "border_overdue": _t(
        "Shipment {shipment} of {exporter} cleared customs at Sost on {cleared} but has not "
        "crossed the Khunjerab Pass within {hours} hours.",
        "{exporter}的货物 {shipment} 已于{cleared}在苏斯特清关，"
        "但{hours}小时内仍未通过红其拉甫口岸。",
        "{exporter} کی کھیپ {shipment} کو {cleared} کو سست میں کسٹمز کلیئرنس ملی مگر {hours} "
        "گھنٹوں میں درہ خنجراب عبور نہیں ہوا۔",
    ),
    "project_matched": _t(
        "New project {name} ({ref}) in {province}: {minerals}, {stage} stage, operated by "
        "{operator}.",
        "新项目{name}（{ref}）位于{province}：{minerals}，{stage}阶段，运营方为{operator}。",
        "نیا منصوبہ {name} ({ref})، {province} میں: {minerals}، مرحلہ {stage}، آپریٹر "
        "{operator}۔",
    ),
    "project_matched_existing": _t(
        "Project {name} ({ref}) in {province} matches your subscription: {minerals}, {stage} "
        "stage, operated by {operator}.",
        "项目{name}（{ref}）位于{province}，符合您的订阅：{minerals}，{stage}阶段，运营方为"
        "{operator}。",
        "منصوبہ {name} ({ref})، {province} میں، آپ کی سبسکرپشن سے مطابقت رکھتا ہے: {minerals}، "
        "مرحلہ {stage}، آپریٹر {operator}۔",
    ),
    "security_rejection": _t(
        "A record claiming to come from {source} was refused on {topic}: {reason}. It is in "
        "the dead-letter queue as {dlq}.",
        "一条声称来自 {source} 的记录在 {topic} 上被拒绝：{reason}。"
        "该记录已存入死信队列，编号 {dlq}。",
        "{source} سے ہونے کا دعویٰ کرنے والا ایک ریکارڈ {topic} پر مسترد کیا گیا: {reason}۔ یہ "
        "ڈیڈ لیٹر قطار میں {dlq} کے طور پر محفوظ ہے۔",
    ),
})
"""Message key → its template in each language."""
