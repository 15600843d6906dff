"""The console's catalogues: in step with the templates and code, complete in zh-Hans and ur,
placeholders kept; the pinned font matches its checksums."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consumers.console import i18n
from consumers.console.i18n import LANGS, Formats, from_accept_language, lang_of
from consumers.console.page import HERE, STATIC

LOCALE = HERE / "locale"
_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "NP_": ((1, "c"), 2)}


AUDIT = HERE.parent / "audit"
"""The audit report (``consumers.audit.html``) speaks from the console's catalogues too."""
ALERTS = HERE.parent / "alerts"
"""And so do the alerts' texts (``consumers.alerts.templates``)."""


def _extracted() -> set[object]:
    found: set[object] = set()
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for folder in (HERE, AUDIT, ALERTS):
        for _, _, message, _, _ in extract_from_dir(str(folder), method_map, options,
                                                   keywords=_KEYWORDS):
            found.add(message)
    return found


def _catalogue(name: str) -> dict[object, object]:
    path = LOCALE / name / "LC_MESSAGES" / "console.po" if name != "pot" else (
        LOCALE / "console.pot")
    with path.open("rb") as po:
        return {m.id: m.string for m in read_po(io.BytesIO(po.read())) if m.id}


def test_the_template_holds_every_message_the_sources_use():
    assert set(_catalogue("pot")) == _extracted(), (
        "run: .venv/bin/pybabel extract -F consumers/console/babel.cfg -k N_ -k NP_:1c,2 "
        "--no-location --sort-output --omit-header -o consumers/console/locale/console.pot "
        "consumers/console consumers/audit consumers/alerts")


@pytest.mark.parametrize("name", ["zh_Hans", "ur", "en"])
def test_each_catalogue_has_the_templates_messages(name):
    assert set(_catalogue(name)) == set(_catalogue("pot"))


@pytest.mark.parametrize("name", ["zh_Hans", "ur"])
def test_chinese_and_urdu_translate_everything_and_keep_the_placeholders(name):
    for msgid, text in _catalogue(name).items():
        ids = msgid if isinstance(msgid, tuple) else (msgid,)
        texts = text if isinstance(text, tuple) else (text,)
        assert all(texts), f"{name}: {msgid!r} is not translated"
        wanted = set(re.findall(r"%\(\w+\)s", ids[-1]))
        for one in texts:
            assert set(re.findall(r"%\(\w+\)s", one)) == wanted, (name, msgid, one)
            assert one != ids[0] or not re.search("[a-z]{3}", one), (name, msgid)


def test_languages_are_chosen_by_tag_and_by_header():
    assert lang_of("zh-Hans") is LANGS["zh"]
    assert lang_of("UR") is LANGS["ur"]
    assert lang_of("fr") is None
    assert from_accept_language("fr-FR,fr;q=0.9,ur-PK;q=0.8,en;q=0.5") is LANGS["ur"]
    assert from_accept_language("de") is None
    assert [lang.dir for lang in LANGS.values()] == ["ltr", "ltr", "rtl"]


def test_dates_and_numbers_follow_the_locale_and_times_the_readers_zone():
    from datetime import UTC, date, datetime  # noqa: PLC0415

    from schemas.common import Side  # noqa: PLC0415

    day, moment = date(2026, 2, 1), datetime(2026, 2, 1, 6, 2, tzinfo=UTC)
    en = Formats(LANGS["en"], i18n.zone_for(Side.PK))
    zh = Formats(LANGS["zh"], i18n.zone_for(Side.CN))
    ur = Formats(LANGS["ur"], i18n.zone_for(Side.PK))
    assert en.day(day) == "1 Feb 2026"
    assert zh.day(day) == "2026年2月1日"
    assert ur.day(day) != en.day(day)
    assert "فروری" in ur.day(day)  # February in Urdu
    assert en.moment(moment) == "1 Feb 2026, 11:02:00 PKT"  # UTC+5
    assert zh.moment(moment).endswith("14:02:00 北京时间")  # UTC+8
    assert en.number("1234567.5", 1) == "1,234,567.5"
    assert en.number(None) == ""


def test_the_shipped_font_is_the_pinned_one_with_its_licence():
    fonts = STATIC / "fonts"
    sums = (fonts / "SHA256SUMS").read_text().split("\n")
    checked = 0
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256((fonts / name).read_bytes()).hexdigest() == digest, name
        checked += 1
    assert checked == 3
    assert "SIL Open Font License" in (fonts / "OFL-1.1.txt").read_text()
    css = re.sub(r"/\*.*?\*/", "", (STATIC / "console.css").read_text(), flags=re.DOTALL)
    assert Path(fonts / "noto-nastaliq-urdu-arabic-400-normal.woff2").is_file()
    assert "/static/fonts/noto-nastaliq-urdu-arabic-400-normal.woff2" in css
    # logical properties only: the Urdu pages mirror without a stylesheet of their own
    assert not re.search(r"(margin|padding|border)-(left|right)|text-align: (left|right)|"
                         r"\b(left|right):", css)
