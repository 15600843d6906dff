"""Security alerts: a record the verification stage refused for reasons of trust → the platform
and, when someone wrote in its name, the organisation impersonated.

Dead letters reach the alerts through ``consumers.dlq``'s rejection hooks, at least once; the
alert id derives from the DLQ id (topic:partition:offset), so a redelivered rejection raises
nothing new.
"""

from __future__ import annotations

from consumers.alerts.context import Context
from consumers.alerts.i18n import Ident, Message, Term
from consumers.alerts.model import Builder, Notice, fan_out
from consumers.dlq import DeadLetter
from consumers.verification import Reason
from schemas.alerts import AlertCause, AlertRule, CauseKind, Severity
from schemas.authority import competent
from schemas.envelope import org_of
from schemas.envelope_read import from_record
from schemas.errors import RecordError

SECURITY_REASONS = frozenset({
    Reason.SIGNATURE, Reason.UNKNOWN_KEY, Reason.AUTHORITY, Reason.REPLAY, Reason.REORDER,
    Reason.OWN_SUBJECT, Reason.PARTY_MISMATCH, Reason.INVALID_TRANSITION,
    Reason.WRONG_PARTITION, Reason.TIME_SKEW, Reason.SEQUENCE_GAP, Reason.FORK,
    Reason.HASH_CHAIN_BROKEN,
})
"""Rejections that say something about trust; malformed records and duplicates do not."""

IMPERSONATION = frozenset({Reason.SIGNATURE, Reason.UNKNOWN_KEY, Reason.REPLAY, Reason.REORDER})
"""The record used an organisation's name without its valid signature, or replayed its events:
that organisation is told too. (Authority refusals come from a verified emitter.)"""
EMITTER_TOLD = frozenset({Reason.INVALID_TRANSITION, Reason.WRONG_PARTITION, Reason.TIME_SKEW,
                          Reason.SEQUENCE_GAP, Reason.FORK, Reason.HASH_CHAIN_BROKEN})
"""Its own signed record was refused: the emitter is told, to correct what it sent."""


def _header(letter: DeadLetter, name: str) -> str | None:
    for key, value in letter.record.headers:
        if key == name and value is not None:
            try:
                return value.decode("utf-8")[:200]
            except UnicodeDecodeError:
                return None
    return None


def security_notices(letter: DeadLetter, ctx: Context) -> list[Notice]:
    """The alerts a dead letter raises (none unless its reason is about trust)."""
    why = letter.rejection
    if why.reason not in SECURITY_REASONS:
        return []
    source = why.source or _header(letter, "ce_source")
    subject = _header(letter, "ce_subject")
    cause = AlertCause(kind=CauseKind.REJECTION, key=letter.dlq_id, source=source,
                       subject=subject, event_type=_header(letter, "ce_type"))
    message = Message("security_rejection", {
        "source": Ident(source or "?"), "topic": Ident(letter.record.topic),
        "reason": Term("rejection", why.reason.value), "dlq": Ident(letter.dlq_id),
    })
    build = Builder(AlertRule.SECURITY_REJECTION, subject or letter.dlq_id, cause,
                    Severity.CRITICAL, message, None,
                    {"reason": why.reason.value, "detail": why.detail[:200] or "-"})
    told = org_of(source) if source and why.reason in IMPERSONATION | EMITTER_TOLD else None
    wronged = _wronged(letter, ctx) if why.reason is Reason.AUTHORITY else []
    return fan_out(ctx.directory.registered(ctx.config.platform, told, *wronged), build)


def _wronged(letter: DeadLetter, ctx: Context) -> list[str]:
    """Whom an out-of-authority event wrongs: the agencies that hold that authority (their
    power was usurped) and the subject's own parties (the holder, the exporter)."""
    try:
        env = from_record(letter.record.key, letter.record.value, tuple(letter.record.headers))
    except RecordError:
        return []
    scope = env.data.scope()
    parties = [party.org for uscc in sorted(scope.parties)
               if (party := ctx.directory.firm(uscc)) is not None]
    holders = competent(ctx.directory.registry, env.data, env.time)
    return [org for org in (*holders, *parties) if org != env.org]
