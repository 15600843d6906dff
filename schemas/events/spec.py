"""The registry entry of an event type: everything the platform knows about it, declared once.

Each event module ends with ``EVENTS``, one ``EventSpec`` per class it defines, next to the class:
who emits it, its step in a lifecycle, what the timeline says about it, the alerts it raises
(whom they tell, how urgent, and the words in English, Simplified Chinese and Urdu), and which of
its fields are personal or commercial (only the subject's parties may see them).
``schemas.events.registry`` gathers the entries; the authority check, the lifecycles, the
timeline, the alert rules, the access policy, the generated docs and the exported contract read
them from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from string import Formatter
from typing import Any, get_args

from pydantic import BaseModel

from schemas.base import EventData
from schemas.common import Function, Role
from schemas.enums import FieldClass, Severity
from schemas.lifecycle_steps import Step
from schemas.messages import Param, PartyParam

RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""An alert rule's name (``AlertRaised.rule``)."""


@dataclass(frozen=True, slots=True)
class Emitters:
    """Who emits the type: the roles that may hold a grant for it, and how the docs say it."""

    label: str
    """"provincial licensing authority", as the generated docs print it."""
    roles: frozenset[Role]
    """An organisation of another role is refused whatever grant it holds."""


def agency(label: str) -> Emitters:
    return Emitters(label, frozenset({Role.AGENCY}))


def firm(label: str) -> Emitters:
    return Emitters(label, frozenset({Role.FIRM}))


def either(label: str) -> Emitters:
    """Agency or firm (a correction by whoever emitted the event; work reported by either)."""
    return Emitters(label, frozenset({Role.AGENCY, Role.FIRM}))


@dataclass(frozen=True, slots=True)
class Tell:
    """One recipient of an event's alert, found in the registry when the alert is raised."""

    firm_field: str | None = None
    """The firm whose USCC the event's field of this name holds (told only if registered)."""
    function: Function | None = None
    """Every organisation the registry gives this function (and those the alert config adds)."""
    emitter: bool = False
    """The organisation that emitted the event."""


def party(field: str) -> Tell:
    return Tell(firm_field=field)


def serving(function: Function) -> Tell:
    return Tell(function=function)


EMITTER = Tell(emitter=True)


@dataclass(frozen=True, slots=True)
class Texts:
    """One alert's words: ``str.format`` templates in each platform language.

    The same placeholders in each; values are formatted per language when rendered (dates,
    numbers and lists by Babel, names from the registry, closed sets from the glossary), and the
    Urdu text gets its right-to-left mark and bidi isolates then, not here.
    """

    en: str
    zh: str
    ur: str

    def __post_init__(self) -> None:
        names = [_placeholders(text) for text in (self.en, self.zh, self.ur)]
        if names[1] != names[0] or names[2] != names[0]:
            raise ValueError(f"placeholders differ between languages: {names}")


def _placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in Formatter().parse(template) if name)


def _never(_data: Any) -> date | None:
    return None


def _nothing(_data: Any) -> Mapping[str, str]:
    return {}


def _always(_data: Any) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class EventAlert:
    """An alert the event raises at once when accepted: one per recipient, never twice."""

    rule: str
    """The ``AlertRaised.rule`` (and the template's key); several types may share a rule."""
    severity: Severity | Callable[[Any], Severity]
    texts: Texts
    tell: tuple[Tell, ...]
    """The recipients, in order; each is told once."""
    says: Callable[[Any], Mapping[str, Param | PartyParam]]
    """The event's data → the values of the placeholders."""
    due: Callable[[Any], date | None] = _never
    """The date the recipient must act by, when there is one."""
    details: Callable[[Any], Mapping[str, str]] = _nothing
    """Machine-readable facts behind the text (``AlertRaised.details``)."""
    when: Callable[[Any], bool] = _always
    """Only when this holds of the data (an alert about some outcomes only)."""

    def __post_init__(self) -> None:
        if not RULE_NAME.match(self.rule):
            raise ValueError(f"alert rule {self.rule!r} is not a rule name ({RULE_NAME.pattern})")
        if not self.tell:
            raise ValueError(f"alert rule {self.rule} tells no one")

    def severity_of(self, data: EventData) -> Severity:
        return self.severity if isinstance(self.severity, Severity) else self.severity(data)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event type's registry entry."""

    cls: type[EventData]
    emitted_by: Emitters
    lifecycle: tuple[str, Step] | None = None
    """The lifecycle (``schemas.lifecycle_steps.TITLE`` …) and the step the type is in it."""
    detail: Callable[[Any], str] | None = None
    """What the timeline says about an event of this type, beside its type in words."""
    alerts: tuple[EventAlert, ...] = ()
    rules: tuple[str, ...] = ()
    """Alert rules of the alerts consumer that need more than the event (views, subscriptions)
    and look at this type, by name (``consumers.alerts.rules_events.CODE_RULES``)."""
    restricted: Mapping[str, FieldClass] = field(default_factory=dict, hash=False)
    """The fields of its data that are not shared, by dotted path (``applicant.ntn``): personal
    or commercial, seen only by the subject's parties, the competent agencies, auditors and the
    platform (``schemas.access.restricted_fields``, read by ``consumers.policy``). Every other
    field is seen by every participant. A correction declares none: its ``replacement`` follows
    the corrected type's."""

    def __post_init__(self) -> None:
        bad = [r for r in self.rules if not RULE_NAME.match(r)]
        if bad:
            raise ValueError(f"{self.cls.__name__}: not rule names: {bad}")
        unknown = [p for p in self.restricted if not has_field(self.cls, p)]
        if unknown:
            raise ValueError(f"{self.cls.__name__}: restricted paths name no field: {unknown}")
        shared = [p for p, c in self.restricted.items() if c not in RESTRICTED_CLASSES]
        if shared:
            raise ValueError(f"{self.cls.__name__}: restricted paths must be personal or "
                             f"commercial: {shared}")


PERSONAL = FieldClass.PERSONAL
COMMERCIAL = FieldClass.COMMERCIAL
RESTRICTED_CLASSES = frozenset({PERSONAL, COMMERCIAL})


def has_field(model: type[BaseModel], path: str) -> bool:
    """Whether the dotted ``path`` names a field of ``model`` (through nested models, optional
    or not)."""
    head, _, rest = path.partition(".")
    info = model.model_fields.get(head)
    if info is None:
        return False
    if not rest:
        return True
    return any(has_field(inner, rest) for inner in _models(info.annotation))


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (``Applicant | None`` → ``[Applicant]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models(arg)]


def words(value: str) -> str:
    """A code as words (``care_and_maintenance`` → ``care and maintenance``), for timelines."""
    return value.replace("_", " ")
