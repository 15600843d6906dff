"""What rules say before it is rendered and signed: notices to organisations, and deadlines."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from consumers.alerts.i18n import Message
from schemas.alerts import AlertCause, AlertRule, RuleId, Severity, alert_id


@dataclass(frozen=True, slots=True)
class Notice:
    """One alert to one organisation, not yet rendered: the output of every rule."""

    rule: RuleId
    recipient: str
    about: str
    cause: AlertCause
    severity: Severity
    message: Message
    due_on: date | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def alert_id(self) -> str:
        return alert_id(self.rule, self.cause.key, self.recipient)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment a rule must look at a subject again, even if no event arrives.

    ``key`` names the deadline and the date it guards, so a rescheduled deadline (a renewal
    moving the expiry) is a new key, and a fired key never fires again.
    """

    rule: AlertRule
    subject: str
    fires_at: datetime
    due_on: date | None
    key: str
    params: Mapping[str, str] = field(default_factory=dict)


def fan_out(recipients: list[str], build: Builder) -> list[Notice]:
    """One notice per distinct recipient, in the order given."""
    return [build(org) for org in dict.fromkeys(recipients)]


class Builder:
    """Makes the notice of one rule and cause for a given recipient."""

    def __init__(self, rule: RuleId, about: str, cause: AlertCause, severity: Severity,
                 message: Message, due_on: date | None = None,
                 details: Mapping[str, str] | None = None) -> None:
        self._fields = (rule, about, cause, severity, message, due_on, dict(details or {}))

    def __call__(self, recipient: str) -> Notice:
        rule, about, cause, severity, message, due_on, details = self._fields
        return Notice(rule, recipient, about, cause, severity, message, due_on, details)
