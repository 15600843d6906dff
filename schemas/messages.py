"""What an alert says before it is rendered: a template key and typed parameters.

Pure values, shared by the event registry (``schemas.events.spec``: an event type's alert names
its parameters) and the alerts consumer (``consumers.alerts.i18n`` renders them per language).
``Firm``, ``Org`` and ``Emitter`` name a party the registry knows: the consumer looks its name up
(``Name``) before rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from schemas.common import Language, Names


@dataclass(frozen=True, slots=True)
class Day:
    value: date


@dataclass(frozen=True, slots=True)
class Moment:
    """An instant, shown as a date and time in the recipient's time zone, named."""

    value: datetime


@dataclass(frozen=True, slots=True)
class Number:
    value: int | Decimal


@dataclass(frozen=True, slots=True)
class Ident:
    """An identifier or code, the same in every language."""

    value: str


@dataclass(frozen=True, slots=True)
class Name:
    """A proper name; a language without its own spelling falls back to English."""

    en: str
    zh: str | None = None
    ur: str | None = None

    @classmethod
    def of(cls, names: Names | Mapping[str, str]) -> Name:
        data = names.model_dump() if isinstance(names, Names) else dict(names)
        return cls(data["en"], data.get("zh"), data.get("ur"))

    def spelled(self, language: Language) -> str:
        return str(getattr(self, language.value) or self.en)


@dataclass(frozen=True, slots=True)
class Term:
    """A member of a closed set, translated through the glossary named ``glossary``."""

    glossary: str
    code: str


@dataclass(frozen=True, slots=True)
class Terms:
    glossary: str
    codes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Firm:
    """The registered name of the firm with this USCC (the USCC when it is not registered)."""

    uscc: str


@dataclass(frozen=True, slots=True)
class Org:
    """The registered name of the organisation ``org_id``."""

    org_id: str


@dataclass(frozen=True, slots=True)
class Emitter:
    """The registered name of the organisation that emitted the event."""


Param = Day | Moment | Number | Ident | Name | Term | Terms
"""A value ready to render."""
PartyParam = Firm | Org | Emitter
"""A value the consumer turns into a ``Name`` from the registry first."""


@dataclass(frozen=True, slots=True)
class Message:
    """What to say: a template key and its parameters, rendered per language on demand."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict)
