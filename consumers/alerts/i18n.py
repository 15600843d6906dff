"""Rendering alert messages in each language: Babel for dates, numbers and lists, bidi for Urdu.

Urdu is written right to left; identifiers (``BA-EL-2025-0153``), Latin names and numbers inside
it are not. Each Urdu text starts with a RIGHT-TO-LEFT MARK and every value placed into it is
wrapped in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE (Unicode bidi isolates), so a title
number keeps its order and never drags the punctuation around it to the wrong side.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time
from babel.lists import format_list
from babel.numbers import format_decimal

from consumers.alerts.glossary import TABLES
from consumers.alerts.templates import TEMPLATES
from schemas.alerts import AlertTexts
from schemas.common import Language
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.messages import Day as Day  # noqa: PLC0414 - re-exported: the rules' vocabulary
from schemas.messages import Ident as Ident  # noqa: PLC0414
from schemas.messages import Message as Message  # noqa: PLC0414
from schemas.messages import Moment as Moment  # noqa: PLC0414
from schemas.messages import Name as Name  # noqa: PLC0414
from schemas.messages import Number as Number  # noqa: PLC0414
from schemas.messages import Param as Param  # noqa: PLC0414
from schemas.messages import Term as Term  # noqa: PLC0414
from schemas.messages import Terms as Terms  # noqa: PLC0414

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


def word(glossary: str, code: str, language: Language) -> str:
    return TABLES[glossary][code][_ORDER.index(language)]


def format_param(param: Param, language: Language, zone: tzinfo = PAKISTAN_TIME) -> str:
    """One value as the reader of ``language`` in ``zone`` expects it. Days are the domain's
    own dates (in Pakistan, where the deadlines run) and are never shifted.

    Babel's formatting is ~0.1 ms a value and the same dates and counts recur in alert after
    alert (three languages each), so dates, moments, whole numbers and term lists are
    remembered (``_remembered``), keyed by what decides the text: a moment as its instant in UTC
    (equal datetimes can be different instants: a repeated hour's ``fold``), and only in a zone
    whose label is fixed here (a zone's name is not part of its equality)."""
    match param:
        case Day() | Terms():
            return _remembered(param, language, zone)
        case Number(value) if type(value) is int:
            return _remembered(param, language, zone)
        case Moment(value) if value.tzinfo is not None and zone in _ZONE_LABELS:
            # to the minute: a moment is written to the minute (``HH:mm``), and the labelled
            # zones are fixed whole-hour offsets, so the minute in UTC decides the text; each
            # event has its own seconds, and keyed on them every alert missed the cache
            minute = value.astimezone(UTC).replace(second=0, microsecond=0)
            return _remembered(Moment(minute), language, zone)
    return _format(param, language, zone)


@lru_cache(maxsize=4096)
def _remembered(param: Param, language: Language, zone: tzinfo) -> str:
    return _format(param, language, zone)


def _format(param: Param, language: Language,  # noqa: PLR0911 - one per kind
            zone: tzinfo) -> str:
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
