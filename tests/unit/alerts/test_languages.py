"""Every template and glossary word exists in every language; formats follow each locale."""



from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from consumers.alerts import i18n
from consumers.alerts.glossary import TABLES
from consumers.alerts.i18n import (
    CHINA_TIME,
    FSI,
    PDI,
    RLM,
    Day,
    Ident,
    Message,
    Moment,
    Name,
    Number,
    Terms,
    format_param,
    render,
)
from consumers.alerts.security import SECURITY_REASONS
from consumers.alerts.templates import TEMPLATES
from consumers.verification import Reason
from consumers.views.models import ApprovalKind
from schemas.alerts import AlertRule
from schemas.common import Language, Mineral, Province, TitleType
from schemas.events.approvals_other import LpcoType
from schemas.events.projects import ProjectStage
from schemas.events.shipments_border import PAKISTAN_TIME, HoldReason


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_template_has_every_language_and_the_same_fields(key: str) -> None:
    template = TEMPLATES[key]
    assert set(template) == set(Language), f"{key} lacks {set(Language) - set(template)}"
    assert all(template[lang].strip() for lang in Language)
    assert _fields(template[Language.ZH]) == _fields(template[Language.EN])
    assert _fields(template[Language.UR]) == _fields(template[Language.EN])


def test_every_rule_has_a_template() -> None:
    assert {r.value for r in AlertRule} <= set(TEMPLATES)


@pytest.mark.parametrize("glossary", sorted(TABLES))
def test_glossary_words_exist_in_three_languages(glossary: str) -> None:
    for code, words in TABLES[glossary].items():
        assert len(words) == 3, code
        assert all(w.strip() for w in words), code


@pytest.mark.parametrize(("glossary", "codes"), [
    ("mineral", {m.value for m in Mineral}),
    ("province", {p.value for p in Province}),
    ("title_type", {t.value for t in TitleType}),
    ("stage", {s.value for s in ProjectStage}),
    ("hold_reason", {h.value for h in HoldReason}),
    ("rejection", {r.value for r in SECURITY_REASONS}),
    ("approval_kind", {"IEE", "EIA", *(t.value for t in LpcoType), ApprovalKind.TITLE.value}),
])
def test_glossary_covers_its_enumeration(glossary: str, codes: set[str]) -> None:
    assert codes <= set(TABLES[glossary])
    assert Reason.SIGNATURE.value in TABLES["rejection"]


def test_dates_and_numbers_follow_each_locale() -> None:
    day = Day(date(2026, 2, 1))
    assert [format_param(day, lang) for lang in Language] == [
        "1 February 2026", "2026年2月1日", "1 فروری، 2026"]
    number = Number(Decimal("12345.5"))
    assert [format_param(number, lang) for lang in Language] == ["12,345.5"] * 3
    moment = Moment(datetime(2026, 4, 14, 6, 30, tzinfo=UTC))
    assert format_param(moment, Language.EN) == "14 April 2026, 11:30 PKT"
    minerals = Terms("mineral", ("copper", "gold", "zinc"))
    assert [format_param(minerals, lang) for lang in Language] == [
        "copper, gold and zinc", "铜、金和锌", "تانبا، سونا، اور جست"]


def test_remembered_texts_depend_on_the_instant_the_zone_and_the_language() -> None:
    """Texts are cached (``i18n._remembered``): the key must hold everything that shapes them."""
    utc = Moment(datetime(2026, 4, 14, 18, 30, tzinfo=UTC))
    karachi = Moment(datetime(2026, 4, 14, 23, 30, tzinfo=PAKISTAN_TIME))  # the same instant
    assert format_param(utc, Language.EN) == "14 April 2026, 23:30 PKT"
    assert format_param(karachi, Language.EN) == "14 April 2026, 23:30 PKT"
    assert format_param(utc, Language.EN, CHINA_TIME) == "15 April 2026, 02:30 CST (Beijing)"
    assert format_param(karachi, Language.EN) == "14 April 2026, 23:30 PKT", "zone is in the key"
    assert format_param(Number(7), Language.EN) == "7"
    assert format_param(Number(12345), Language.ZH) == "12,345"
    assert format_param(Number(Decimal("7.50")), Language.EN) == "7.5"
    assert format_param(Day(date(2026, 2, 1)), Language.ZH) == "2026年2月1日"
    assert format_param(Day(date(2026, 2, 1)), Language.EN) == "1 February 2026"


def test_moments_within_one_minute_share_a_text_and_its_cache_entry() -> None:
    """A moment is written to the minute, so the cache keys it on its minute (each event has its
    own seconds: keyed on them, every alert missed the cache and paid Babel's ~0.1 ms a value)."""
    i18n._remembered.cache_clear()
    first = Moment(datetime(2031, 7, 9, 4, 17, 2, 123456, tzinfo=UTC))
    later = Moment(datetime(2031, 7, 9, 9, 17, 59, 999999, tzinfo=PAKISTAN_TIME))  # same minute
    next_minute = Moment(datetime(2031, 7, 9, 4, 18, 0, tzinfo=UTC))
    assert format_param(first, Language.EN) == "9 July 2031, 09:17 PKT"
    assert format_param(later, Language.EN) == "9 July 2031, 09:17 PKT"
    assert i18n._remembered.cache_info().hits == 1, "the second moment was a hit"
    assert format_param(next_minute, Language.EN) == "9 July 2031, 09:18 PKT"
    assert format_param(first, Language.EN, CHINA_TIME) == "9 July 2031, 12:17 CST (Beijing)"
    assert i18n._remembered.cache_info().misses == 3


def test_equal_moments_that_are_different_instants_or_zones_keep_their_own_text() -> None:
    """Found by review: datetimes compare equal across a repeated hour's ``fold``, and zones of
    one offset compare equal whatever their names; neither may share a remembered text."""
    new_york = ZoneInfo("America/New_York")
    first = Moment(datetime(2024, 11, 3, 1, 30, tzinfo=new_york))  # EDT, 05:30 UTC
    second = Moment(datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=new_york))  # EST, 06:30 UTC
    assert first == second, "the premise: they compare equal"
    assert format_param(first, Language.EN, UTC) == "3 November 2024, 05:30 (UTC)"
    assert format_param(second, Language.EN, UTC) == "3 November 2024, 06:30 (UTC)"
    assert format_param(first, Language.EN) == "3 November 2024, 10:30 PKT"
    assert format_param(second, Language.EN) == "3 November 2024, 11:30 PKT"
    moscow, nairobi = timezone(timedelta(hours=3), "MSK"), timezone(timedelta(hours=3), "EAT")
    noon = Moment(datetime(2026, 4, 14, 12, tzinfo=UTC))
    assert moscow == nairobi, "the premise: they compare equal"
    assert format_param(noon, Language.EN, moscow) == "14 April 2026, 15:00 (MSK)"
    assert format_param(noon, Language.EN, nairobi) == "14 April 2026, 15:00 (EAT)"


def test_urdu_is_right_to_left_with_isolated_values() -> None:
    message = Message("licence_expiring", {
        "what": Ident("EL"), "ref": Ident("BA-EL-2025-0153"), "expires": Day(date(2029, 1, 31)),
        "days": Number(30)})
    text = render(message, Language.UR)
    assert text.startswith(RLM)
    assert f"{FSI}BA-EL-2025-0153{PDI}" in text
    assert text.count(FSI) == text.count(PDI) == 4
    assert RLM not in render(message, Language.EN) + render(message, Language.ZH)


def test_names_fall_back_to_english() -> None:
    name = Name("Example Mining", zh="示例矿业")
    assert [format_param(name, lang) for lang in Language] == [
        "Example Mining", "示例矿业", "Example Mining"]
