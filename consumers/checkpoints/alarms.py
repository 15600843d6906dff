"""Alerts about an inconsistent log: a fork, a shrink, a rewritten history, a forged checkpoint.

Raised by the platform (the only emitter of alerts, signed with the operator's key) to itself
and to every active organisation of both sides: a log that lost or rewrote records concerns
every participant. Two ways in: the checkpointer finds its own last checkpoint no longer
matches the log it rebuilt; or a witness refused a checkpoint and said so, signed, on
``emining.refusals.v1``, which the checkpointer relays (``Checkpointer.relay_refusals``). The
refusal itself stays on the log, signed by the witness, whatever the platform does with it.

The alerts use the existing rule ``security_rejection`` (cause ``rejection``, keyed by the
refused record or by origin and size), so they reach ``emining alerts``, the console inbox, the
webhooks and the live stream like every other security alert; their texts are written here in
the three languages (the alert carries them), ``details.reason`` says which inconsistency.
"""

# ruff: noqa: RUF001 - the Urdu texts use Arabic-script punctuation on purpose

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas.alerts import (
    PLATFORM_ORG,
    AlertCause,
    AlertRaised,
    AlertRule,
    AlertTexts,
    CauseKind,
    Severity,
    alert_id,
)
from schemas.checkpoints import RefusalKind
from schemas.common import Language
from schemas.registry import Registry

AlarmSink = Callable[[Sequence["Alarm"]], Awaitable[None]]
"""Raises the platform's alerts about alarms (wired in ``infra``: ``alerts_for`` each one, into
the alert outbox, delivered by the alerts' delivery worker)."""

_WHAT = {
    RefusalKind.FORK: (
        "two different tree heads were signed for size {size}",
        "同一大小 {size} 签署了两个不同的树头",
        "سائز {size} کے لیے دو مختلف ٹری ہیڈز پر دستخط کیے گئے",
    ),
    RefusalKind.SHRINK: (
        "a checkpoint of size {size} follows one of size {last}: records were removed",
        "大小为 {size} 的检查点出现在大小为 {last} 的检查点之后：记录已被删除",
        "سائز {size} کا چیک پوائنٹ سائز {last} کے بعد آیا: ریکارڈ حذف کیے گئے",
    ),
    RefusalKind.BAD_PROOF: (
        ("the checkpoint of size {size} does not extend the head of size {last}: history was"
         " rewritten"),
        "大小为 {size} 的检查点不是大小为 {last} 的树头的延续：历史被改写",
        "سائز {size} کا چیک پوائنٹ سائز {last} کے ہیڈ کا تسلسل نہیں: تاریخ بدلی گئی",
    ),
    RefusalKind.BAD_SIGNATURE: (
        "a checkpoint not signed by the platform's key was published",
        "发布了一个未经平台密钥签名的检查点",
        "ایک ایسا چیک پوائنٹ شائع ہوا جس پر پلیٹ فارم کی کلید کے دستخط نہیں",
    ),
}


@dataclass(frozen=True, slots=True)
class Alarm:
    """One inconsistency, as found: where, what, by whom, and the record that shows it."""

    origin: str
    kind: RefusalKind
    reporter: str
    """The organisation that found it: a witness, or the platform (its checkpointer)."""
    cause_key: str
    """Unique per inconsistency: the refusal record (``topic:partition:offset``), or origin,
    kind and size for the checkpointer's own finding. Alert ids derive from it."""
    size: int | None = None
    last: int | None = None
    detail: str = ""

    def texts(self) -> AlertTexts:
        args = {"size": "?" if self.size is None else self.size,
                "last": "?" if self.last is None else self.last}
        en, zh, ur = (t.format(**args) for t in _WHAT[self.kind])
        return AlertTexts(
            en=f"The log {self.origin} is inconsistent: {en}. Reported by {self.reporter}"
               f" ({self.cause_key}).",
            zh=f"日志 {self.origin} 不一致：{zh}。报告者：{self.reporter}（{self.cause_key}）。",
            ur=f"\u200fلاگ \u2068{self.origin}\u2069 میں تضاد ہے: {ur}۔ اطلاع دہندہ: "
               f"\u2068{self.reporter}\u2069 (\u2068{self.cause_key}\u2069)۔",
        )


def recipients(registry: Registry, at: datetime) -> list[str]:
    """The platform and every organisation active at ``at``, both sides."""
    return [PLATFORM_ORG, *sorted(o.id for o in registry.orgs.values() if o.active_at(at))]


def alerts_for(alarm: Alarm, registry: Registry, at: datetime | None = None) -> list[AlertRaised]:
    """One critical ``security_rejection`` alert per recipient (deterministic ids)."""
    now = at or datetime.now(UTC)
    cause = AlertCause(kind=CauseKind.REJECTION, key=alarm.cause_key[:400],
                       source=alarm.reporter[:200], subject=alarm.origin[:200])
    details = {"reason": alarm.kind.value, "origin": alarm.origin[:200],
               "reporter": alarm.reporter[:200], "detail": alarm.detail[:200] or "-"}
    if alarm.size is not None:
        details["size"] = str(alarm.size)
    if alarm.last is not None:
        details["last_size"] = str(alarm.last)
    texts = alarm.texts()
    out = []
    for org in recipients(registry, now):
        record = registry.orgs.get(org)
        out.append(AlertRaised(
            alert_id=alert_id(AlertRule.SECURITY_REJECTION, cause.key, org),
            rule=AlertRule.SECURITY_REJECTION, recipient=org, about=alarm.origin[:200],
            cause=cause, severity=Severity.CRITICAL, raised_at=now,
            language=record.language if record is not None else Language.EN,
            texts=texts, details=details))
    return out
