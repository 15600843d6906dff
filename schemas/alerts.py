"""The platform's alerts: one signed event per recipient, routed to ``emining.alerts.<org>``.

An alert is a fact the platform states to one organisation ("your licence was granted", "this
application is past its service standard"), rendered in English, Simplified Chinese and Urdu.
Its id is derived from the rule, the cause and the recipient, so the same cause never yields two
alerts for one recipient, however often the log is replayed.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import Field, PlainSerializer, PlainValidator, WithJsonSchema, model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.common import Frozen, Language, UtcDatetime
from schemas.enums import Severity as Severity  # noqa: PLC0414 - re-exported: alerts' own word
from schemas.events.examples import TITLE
from schemas.identifiers import OrgId
from schemas.topics import ALERTS_PREFIX, TopicSpec, alerts_topic

PLATFORM_ORG = "urn:emining:xx:platform:operator"
"""The platform operator: signs the registry (the trust anchor) and is the only emitter of alerts.
Defined here only (``infra.compose`` names it too)."""

ALERTS_RETENTION_MS = 365 * 24 * 3600 * 1000
"""Alerts are notifications, not the record: a year on the recipient's topic is enough."""

ALERT_ID_LENGTH = 32

AlertId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$",
                               description="sha256(rule|cause key|recipient), first 32 hex digits")]
_Text = Annotated[str, Field(min_length=1, max_length=2000)]
_Short = Annotated[str, Field(min_length=1, max_length=200)]
_Key = Annotated[str, Field(min_length=1, max_length=400)]


class AlertRule(StrEnum):
    """The rules of the alerts service (README "Alerts" lists what each watches and whom it
    tells); an event type's registry entry may declare more (``DeclaredRule``)."""

    APPROVAL_DECIDED = "approval_decided"
    DEFICIENCY_NOTIFIED = "deficiency_notified"
    DEFICIENCY_DUE_SOON = "deficiency_due_soon"
    APPLICATION_OVERDUE = "application_overdue"
    DEEMED_APPROVAL = "deemed_approval"
    LICENCE_EXPIRING = "licence_expiring"
    WORK_NOT_COMMENCED = "work_not_commenced"
    EXPORT_WITHOUT_APPROVAL = "export_without_approval"
    EXPORT_APPROVAL_MISSING = "export_approval_missing"
    CUSTOMS_HOLD = "customs_hold"
    BORDER_OVERDUE = "border_overdue"
    PROJECT_MATCHED = "project_matched"
    SECURITY_REJECTION = "security_rejection"


RULE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


class DeclaredRule(str):
    """A rule declared by an event type's registry entry (``schemas.events.spec.EventAlert``)
    rather than a member of ``AlertRule``: read the same way (``.value``)."""

    __slots__ = ()

    @property
    def value(self) -> str:
        return str.__str__(self)


RuleId = AlertRule | DeclaredRule


def rule_named(name: str) -> RuleId:
    """The rule called ``name``: the ``AlertRule`` member, else a rule an entry declares."""
    if isinstance(name, AlertRule | DeclaredRule):
        return name
    if not isinstance(name, str) or not re.match(RULE_PATTERN, name):
        raise ValueError(f"{name!r} is not a rule name ({RULE_PATTERN})")
    try:
        return AlertRule(name)
    except ValueError:
        return DeclaredRule(name)


Rule = Annotated[
    RuleId, PlainValidator(rule_named), PlainSerializer(lambda rule: rule.value, return_type=str),
    WithJsonSchema({"anyOf": [{"enum": [rule.value for rule in AlertRule], "type": "string"},
                              {"type": "string", "pattern": RULE_PATTERN}],
                    "description": "a rule of the alerts service, or one an event type's registry "
                                   "entry declares"}),
]
"""``AlertRaised.rule``: a rule of the alerts service or one an event type declares."""




class CauseKind(StrEnum):
    EVENT = "event"
    """An accepted event: ``key`` is ``<source>#<id>`` (ids are unique per source)."""
    DEADLINE = "deadline"
    """A deadline reached on the clock: ``key`` names the deadline and its date."""
    REJECTION = "rejection"
    """A record the verification stage refused: ``key`` is its DLQ id (topic:partition:offset)."""
    SUBSCRIPTION = "subscription"
    """An existing project matched a new subscription: ``key`` is subscription id and project."""


class AlertCause(Frozen):
    kind: CauseKind
    key: _Key
    event_type: _Short | None = None
    source: _Short | None = None
    """The cause's source as it claimed itself (for a rejection: possibly forged)."""
    subject: _Short | None = None


class AlertTexts(Frozen):
    """The alert in each platform language; Urdu starts with a right-to-left mark."""

    en: _Text
    zh: _Text
    ur: _Text

    def in_language(self, language: Language) -> str:
        return str(getattr(self, language.value))


def alert_id(rule: RuleId, cause_key: str, recipient: str) -> str:
    """The deterministic id: one alert per rule, cause and recipient, ever."""
    digest = hashlib.sha256(f"{rule.value}|{cause_key}|{recipient}".encode())
    return digest.hexdigest()[:ALERT_ID_LENGTH]


class AlertRaised(EventData):
    """The platform tells one organisation about something that concerns it.

    Emitted by: the platform operator (alerts service).
    """

    TYPE: ClassVar[str] = "pk.emining.alert.raised"
    TOPIC: ClassVar[str] = ALERTS_PREFIX
    SUBJECT_FIELD: ClassVar[str] = "about"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "alert_id": "0b4e7e1c9acbc1f84b6c67b7d1272886",
        "rule": "approval_decided",
        "recipient": "urn:emining:cn:ent:mcc-resources",
        "about": TITLE,
        "cause": {"kind": "event",
                  "key": "urn:emining:pk:gov:ba-mmdd/gateway#0194f5b2-6c1e-7d3a-9a43-2f1c7e0b5a11",
                  "event_type": "pk.emining.approval.licence.granted.v1",
                  "source": "urn:emining:pk:gov:ba-mmdd/gateway", "subject": TITLE},
        "severity": "info",
        "raised_at": "2026-02-01T06:02:11Z",
        "language": "zh",
        "texts": {
            "en": "Exploration licence BA-EL-2025-0153 was granted by Mines & Minerals "
                  "Development Department, Balochistan on 1 February 2026.",
            "zh": "勘探许可证 BA-EL-2025-0153 已由俾路支省矿产开发厅于2026年2月1日批准。",
            "ur": "\u200f\u2068ایکسپلوریشن لائسنس\u2069 \u2068BA-EL-2025-0153\u2069: "  # noqa: RUF001
                  "\u2068محکمہ معدنیات و معدنی ترقی، بلوچستان\u2069 نے "  # noqa: RUF001
                  "\u20681 فروری، 2026\u2069 کو فیصلہ کیا — \u2068منظور\u2069۔",  # noqa: RUF001
        },
        "details": {"decision": "granted", "decided_on": "2026-02-01"},
    }

    alert_id: AlertId
    rule: Rule
    recipient: OrgId
    about: _Short
    """The subject the alert concerns: a title, file, LPCO, shipment or project id."""
    cause: AlertCause
    severity: Severity
    due_on: date | None = None
    """The date the recipient must act by, when there is one."""
    raised_at: UtcDatetime
    language: Language
    """The recipient's preferred language, as the registry had it when the alert was raised."""
    texts: AlertTexts
    details: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")], _Short],
        Field(max_length=20),
    ] = Field(default_factory=dict)
    """Machine-readable facts behind the text (decision, days left, hold reason)."""

    @model_validator(mode="after")
    def _id_is_derived(self) -> Self:
        if self.alert_id != alert_id(self.rule, self.cause.key, self.recipient):
            fail("alert_id", "alert_id must be sha256(rule|cause.key|recipient)[:32]")
        return self

    @property
    def text(self) -> str:
        """The text in the recipient's language."""
        return self.texts.in_language(self.language)

    def destination_topic(self) -> str:
        return alerts_topic(self.recipient)

    def scope(self) -> Scope:
        return Scope(parties=frozenset({PLATFORM_ORG}))


def alerts_topic_spec(org_id: str, partitions: int = 1) -> TopicSpec:
    """The topic of one organisation's alerts (one partition keeps an org's alerts in order)."""
    return TopicSpec(
        alerts_topic(org_id), partitions,
        {"retention.ms": str(ALERTS_RETENTION_MS), "cleanup.policy": "delete"},
        f"alerts for {org_id}",
    )


ALERT_EVENTS: tuple[type[EventData], ...] = (AlertRaised,)
