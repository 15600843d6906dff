"""Rendering alert messages in each language: Babel for dates, numbers and lists, bidi for Urdu.

Urdu is written right to left; identifiers (``BA-EL-2025-0153``), Latin names and numbers inside
it are not. Each Urdu text starts with a RIGHT-TO-LEFT MARK and every value placed into it is
wrapped in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE (Unicode bidi isolates), so a title
number keeps its order and never drags the punctuation around it to the wrong side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

from consumers.alerts.glossary import TABLES
from consumers.alerts.templates import TEMPLATES
from schemas.alerts import AlertTexts
from schemas.common import Language, Names
from schemas.events.shipments_border import PAKISTAN_TIME

RLM = "\u200f"
"""RIGHT-TO-LEFT MARK: makes the paragraph direction of an Urdu text right to left."""
FSI = "\u2068"
"""FIRST STRONG ISOLATE: a value takes the direction of its own first strong letter."""
PDI = "\u2069"
"""POP DIRECTIONAL ISOLATE: ends the isolate."""

LOCALES: Mapping[Language, Locale] = {
    Language.EN: Locale.parse("en_GB"),
    Language.ZH: Locale.parse("zh_Hans_CN"),
    Language.UR: Locale.parse("ur_PK"),
}
_ORDER = (Language.EN, Language.ZH, Language.UR)
CHINA_TIME = timezone(timedelta(hours=8), "CST")
"""Beijing time (no daylight saving)."""
_ZONE_LABELS: dict[tzinfo, dict[Language, str]] = {
    PAKISTAN_TIME: {Language.EN: " PKT", Language.ZH: "（巴基斯坦时间）",  # noqa: RUF001
                     Language.UR: " (پاکستانی وقت)"},
    CHINA_TIME: {Language.EN: " CST (Beijing)", Language.ZH: "（北京时间）",  # noqa: RUF001
                      Language.UR: " (چینی وقت)"},
}
"""How a time zone is named after a time, per language (the zones recipients live in)."""


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


Param = Day | Moment | Number | Ident | Name | Term | Terms


@dataclass(frozen=True, slots=True)
class Message:
    """What to say: a template key and its parameters, rendered per language on demand."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict)


def word(glossary: str, code: str, language: Language) -> str:
    return TABLES[glossary][code][_ORDER.index(language)]


def format_param(param: Param, language: Language,  # noqa: PLR0911 - one per kind
                 zone: tzinfo = PAKISTAN_TIME) -> str:
    """One value as the reader of ``language`` in ``zone`` expects it. Days are the domain's
    own dates (in Pakistan, where the deadlines run) and are never shifted."""
    locale = LOCALES[language]
    match param:
        case Day(value):
            return format_date(value, format="long", locale=locale)
        case Moment(value):
            local = value.astimezone(zone)
            day = format_date(local.date(), format="long", locale=locale)
            clock = format_time(local.time(), "HH:mm", locale=locale)
            joined = str(locale.datetime_formats["medium"]).format(clock, day)
            label = _ZONE_LABELS.get(zone, {}).get(language, f" ({local.tzname()})")
            return joined + label
        case Number(value):
            return format_decimal(value, locale=locale)
        case Ident(value):
            return value
        case Name():
            return param.spelled(language)
        case Term(glossary, code):
            return word(glossary, code, language)
        case Terms(glossary, codes):
            return format_list([word(glossary, c, language) for c in codes], locale=locale)
    raise TypeError(f"not an alert parameter: {param!r}")


def render(message: Message, language: Language, zone: tzinfo = PAKISTAN_TIME) -> str:
    """The message in ``language``, times in ``zone``; Urdu with its direction marks."""
    values = {name: format_param(p, language, zone) for name, p in message.params.items()}
    if language is Language.UR:
        values = {name: f"{FSI}{value}{PDI}" for name, value in values.items()}
        return RLM + TEMPLATES[message.key][language].format(**values)
    text = TEMPLATES[message.key][language].format(**values)
    if text.endswith(".."):  # a name ending in "Ltd." closes the sentence itself
        text = text[:-1]
    return text[:1].upper() + text[1:]  # a sentence may open with a glossary word


def render_all(message: Message, zone: tzinfo = PAKISTAN_TIME) -> AlertTexts:
    """The message in every language, its times in the recipient's ``zone``."""
    return AlertTexts(**{language.value: render(message, language, zone)
                         for language in _ORDER})
