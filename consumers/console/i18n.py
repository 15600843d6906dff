"""The console's languages: Babel catalogues (``locale/*/LC_MESSAGES/console.po``, compiled when
loaded), the choice of language per request, and dates, times and numbers per locale.

English, 简体中文 and اردو. Urdu pages are right to left. Domain words (minerals, provinces,
stages, decisions, hold reasons) come from the alerts' glossary, the one place they are
translated; the console's own words from its catalogues.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from consumers.alerts.glossary import TABLES
from consumers.alerts.i18n import CHINA_TIME
from schemas.common import Language, Side
from schemas.events.shipments_border import PAKISTAN_TIME

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"


@dataclass(frozen=True, slots=True)
class Lang:
    """One language of the console."""

    code: str
    """``?lang=`` and cookie value: en, zh, ur (the registry's ``Language``)."""
    tag: str
    """BCP 47 tag for ``<html lang>``."""
    catalogue: str
    """Directory under ``locale/``."""
    locale: Locale
    rtl: bool
    native: str
    """The language's name in itself, for the switcher."""

    @property
    def dir(self) -> str:
        return "rtl" if self.rtl else "ltr"

    @property
    def language(self) -> Language:
        return Language(self.code)


LANGS: Mapping[str, Lang] = {
    "en": Lang("en", "en", "en", Locale.parse("en_GB"), rtl=False, native="English"),
    "zh": Lang("zh", "zh-Hans", "zh_Hans", Locale.parse("zh_Hans_CN"), rtl=False,
               native="简体中文"),
    "ur": Lang("ur", "ur", "ur", Locale.parse("ur_PK"), rtl=True, native="اردو"),
}
_ALIASES = {"zh-hans": "zh", "zh_hans": "zh", "zh-cn": "zh", "ur-pk": "ur", "en-gb": "en",
            "en-us": "en"}
_GLOSSARY_INDEX = {"en": 0, "zh": 1, "ur": 2}


def lang_of(value: str | None) -> Lang | None:
    """``en``, ``zh``/``zh-Hans``, ``ur`` (any case) → the language; anything else → None."""
    if not value:
        return None
    key = value.strip().lower()
    return LANGS.get(_ALIASES.get(key, key))


def from_accept_language(header: str | None) -> Lang | None:
    """The first language of an ``Accept-Language`` header the console speaks."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        found = lang_of(tag) or lang_of(tag.split("-")[0])
        if found is not None:
            return found
    return None


@cache
def translations(catalogue: str) -> Translations:
    """The catalogue of one language, compiled from its ``.po`` file in memory."""
    path = LOCALE_DIR / catalogue / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=catalogue, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def term(table: str, code: str | None, lang: Lang) -> str:
    """A glossary word (``table``: mineral, province, stage, decision, hold_reason,
    title_type, approval_kind) in ``lang``; an unknown code is shown as it is."""
    if code is None:
        return ""
    words = TABLES[table].get(code)
    if words is None:
        return code.replace("_", " ")
    return words[_GLOSSARY_INDEX[lang.code]]


def zone_for(side: Side | None) -> tzinfo:
    """Times are shown where the reader is: Beijing time for the Chinese side, else Pakistan's."""
    return CHINA_TIME if side is Side.CN else PAKISTAN_TIME


_ZONE_NAMES = {  # what follows a time, per language
    "PKT": {"en": "PKT", "zh": "巴基斯坦时间", "ur": "پاکستانی وقت"},
    "CST": {"en": "CST", "zh": "北京时间", "ur": "چینی وقت"},
}


@dataclass(frozen=True, slots=True)
class Formats:
    """Dates, times and numbers of one language, in one reader's time zone."""

    lang: Lang
    zone: tzinfo

    def day(self, value: date | str | None) -> str:
        found = _as_date(value)
        return _medium_date(found, self.lang.locale) if found else ""

    def moment(self, value: datetime | str | None) -> str:
        found = _as_datetime(value)
        if found is None:
            return ""
        text = format_datetime(found.astimezone(self.zone), "medium", locale=self.lang.locale)
        zone = str(self.zone.tzname(None) if isinstance(self.zone, timezone) else self.zone)
        return f"{text} {_ZONE_NAMES.get(zone, {}).get(self.lang.code, zone)}"

    def number(self, value: float | Decimal | str | None, digits: int | None = None) -> str:
        if value is None or value == "":
            return ""
        try:
            Decimal(str(value))
        except InvalidOperation:
            return str(value)
        pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
        return _decimal(str(value), pattern, self.lang.locale)

    def percent(self, value: float | None) -> str:
        return "" if value is None else format_percent(value, locale=self.lang.locale)


@lru_cache(maxsize=8192)
def _medium_date(day: date, locale: Locale) -> str:
    """Babel's medium date: a pure function of the day and the locale, kept, since Babel reads
    the locale's patterns and month names again on every call (most of a long page's time)."""
    return format_date(day, "medium", locale=locale)


@lru_cache(maxsize=8192)
def _decimal(text: str, pattern: str | None, locale: Locale) -> str:
    """Babel's decimal of ``text`` (a ``Decimal``'s text: ``1.0`` and ``1.00`` apart), kept."""
    return format_decimal(Decimal(text), format=pattern, locale=locale)


def _as_date(value: date | str | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None
