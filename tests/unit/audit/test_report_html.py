"""The report's page in the auditor's language: translated headings, right to left in Urdu with
its font embedded, names instead of codes, a boundary's extent instead of WKT, colours that say
within or over the standard, and counts that match the rows listed."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import pytest

from consumers.audit.charts import RTL_INSET
from consumers.audit.html import language, render
from consumers.console import charts as console_charts
from tests.unit.audit import report_sample
from tests.unit.audit.report_sample import BA, MOC, NAMES, USCC


class _Page(HTMLParser):
    """The text a reader sees (no attributes, no style), and per element id its text."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.by_id: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}
        self.html_attrs: dict[str, str | None] = {}
        self._open: list[tuple[str, str | None]] = []
        self._table: str | None = None
        self._in_body = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "html":
            self.html_attrs = found
        if tag in ("style", "title") and not self._in_body:
            self._skip += 1
        if tag == "body":
            self._in_body = True
        if tag == "table":
            self._table = found.get("id")
        if tag == "tr" and self._table and self._open and self._open[-1][0] == "tbody":
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        self._open.append((tag, found.get("id")))

    def handle_endtag(self, tag):
        if tag in ("style", "title") and self._skip:
            self._skip -= 1
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._skip or not data.strip():
            return
        self.text.append(data.strip())
        for _, ident in self._open:
            if ident:
                self.by_id.setdefault(ident, []).append(data.strip())

    def of(self, ident: str) -> str:
        return " ".join(self.by_id.get(ident, []))


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    report = report_sample.report()
    return {code: render(report, code) for code in ("en", "zh-Hans", "ur")}


HEADINGS = {
    "en": ("E-Mining Bus audit report", "Approval lead times", "Licence register (EITI 2.3)",
           "Verification"),
    "zh-Hans": ("电子矿业总线审计报告", "审批时长", "矿业权登记册(EITI 2.3)", "验证"),
    "ur": ("ای-مائننگ بس آڈٹ رپورٹ", "منظوری میں لگنے والا وقت", "لائسنس رجسٹر (EITI 2.3)",
           "تصدیق"),
}


@pytest.mark.parametrize("code", ["en", "zh-Hans", "ur"])
def test_the_headings_are_in_the_readers_language(pages, code):
    page = pages[code]
    seen = _parse(page)
    title, lead, register, verification = HEADINGS[code]
    assert f"<h1>{title}</h1>" in page
    assert f"<title>{title}</title>" in page
    for heading in (lead, register, verification):
        assert re.search(rf"<h2>{re.escape(heading)}(</h2>| <span)", page), heading
    assert seen.html_attrs["lang"] == {"en": "en", "zh-Hans": "zh-Hans", "ur": "ur"}[code]
    if code != "en":  # no English heading left behind
        assert "Approval lead times" not in page
        assert "Deadline breaches" not in page


def test_urdu_runs_right_to_left_in_the_consoles_nastaliq_embedded(pages):
    ur, en, zh = _parse(pages["ur"]), _parse(pages["en"]), _parse(pages["zh-Hans"])
    assert (ur.html_attrs["dir"], en.html_attrs["dir"], zh.html_attrs["dir"]) == (
        "rtl", "ltr", "ltr")
    assert "font-family:'Noto Nastaliq Urdu'" in pages["ur"]
    assert pages["ur"].count("src:url(data:font/woff2;base64,") == 2  # 400 and 700
    assert "@font-face" not in pages["en"]  # only the Urdu page carries the font
    assert len(pages["ur"].encode()) < 1_500_000
    assert len(pages["en"].encode()) < 100_000
    # every text of a chart hangs from the page's start: the right edge in Urdu
    first_label = re.search(r'<text class="label" x="([\d.]+)" y="[\d.]+" text-anchor="start" '
                            r'direction="rtl"', pages["ur"])
    assert first_label is not None
    assert float(first_label[1]) == console_charts.WIDTH - RTL_INSET


@pytest.mark.parametrize(("code", "lang"), [("en", "en"), ("zh-Hans", "zh"), ("ur", "ur")])
def test_names_not_codes(pages, code, lang):
    seen = " ".join(_parse(pages[code]).text)
    exit_points = {"en": "Sost (Khunjerab Pass)", "zh": "苏斯特(红其拉甫山口)",
                   "ur": "سوست (خنجراب پاس)"}
    assert exit_points[lang] in seen
    assert NAMES[BA][lang] in seen  # the agency by the registry's name in the reader's language
    assert NAMES[MOC][lang] in seen
    assert NAMES[USCC][lang] in seen
    timeline = _parse(pages[code]).of("PRJ-2025-0001")
    assert NAMES[BA][lang] in timeline  # who acted, in the reader's language
    minerals = {"en": "copper", "zh": "铜", "ur": "تانبا"}
    assert minerals[lang] in seen
    for code_seen in ("sost_khunjerab", "port_qasim", "karachi_port", BA, MOC, "export_noc",
                      "bad_signature", "redelivery"):
        # codes stay in data-* attributes for machines, never in what is read (the reason
        # column quotes the verifier's English words, which name the kind)
        visible = seen.replace("bad_signature at offset", "").replace("redelivery at offset", "")
        assert code_seen not in visible, code_seen
    assert 'data-exit="sost_khunjerab"' in pages[code]


@pytest.mark.parametrize("code", ["en", "zh-Hans", "ur"])
def test_a_boundary_is_its_extent_in_degrees_and_its_shape_not_wkt(pages, code):
    page = pages[code]
    assert "POLYGON(" not in page
    seen = _parse(page)
    box = " ".join(seen.text)
    expected = {
        "en": ("29.0000° N to 29.1000° N", "61.8000° E to 61.9500° E"),
        "zh-Hans": ("北纬 29.0000° 至 北纬 29.1000°", "东经 61.8000° 至 东经 61.9500°"),
        "ur": ("29.0000° شمال تا 29.1000° شمال", "61.8000° مشرق تا 61.9500° مشرق"),
    }[code]
    for text in expected:
        assert text in box
    outline = re.search(r'<svg class="outline"[^>]*>.*?<polygon points="([^"]+)"', page)
    assert outline is not None
    corners = [tuple(map(float, p.split(","))) for p in outline[1].split()]
    assert len(corners) == 4
    assert all(0 <= x <= 40 and 0 <= y <= 40 for x, y in corners)
    northmost = min(corners, key=lambda c: c[1])  # north up: the 29.1° corner is the top one
    assert northmost == corners[1]


@pytest.mark.parametrize(("code", "violations", "warnings"), [
    ("en", "5 violations", "1 warning"),
    ("zh-Hans", "5 项违规", "1 项警告"),
    ("ur", "5 خلاف ورزیاں", "1 انتباہ"),
])
def test_violations_and_warnings_are_counted_apart_and_match_their_rows(
        pages, code, violations, warnings):
    seen = _parse(pages[code])
    assert seen.of("violations-heading") == violations
    assert seen.of("warnings-heading") == warnings
    assert seen.rows["violations"] == 5
    assert seen.rows["warnings"] == 1
    assert seen.of("violation-count") == "5"
    assert seen.of("warning-count") == "1"
    assert seen.of("breach-count") == "3"
    assert pages[code].count('<tr data-ref="') == 3  # the breaches listed: as many as counted


def test_bar_colours_say_within_or_over_the_standard(pages):
    rows = dict(re.findall(r'<g class="row" data-label="([^"]+)" data-colour="([^"]+)">',
                           pages["en"]))
    by_agency = {unescape(label).split(" · ")[0]: colour for label, colour in rows.items()}
    assert by_agency[NAMES[BA]["en"]] == console_charts.WITHIN  # median 30 d, standard 60
    assert by_agency["Balochistan Environmental Protection Agency"] == console_charts.OVER
    assert by_agency[NAMES[MOC]["en"]] == console_charts.OVER  # median 7.5 d, standard 7
    legend = _parse(pages["en"]).text
    assert "median within the standard" in legend
    assert "median over the standard" in legend
    zh = _parse(pages["zh-Hans"]).text
    assert "median within the standard" not in zh


def test_dates_and_numbers_follow_the_locale(pages):
    en, zh = " ".join(_parse(pages["en"]).text), " ".join(_parse(pages["zh-Hans"]).text)
    assert "7 Mar 2025" in en  # title 5: received 6 January, 60 days
    assert "2025年3月7日" in zh
    assert "2,400.000" in en  # the Khunjerab shipment's dry tonnes
    ur = " ".join(_parse(pages["ur"]).text)
    assert "مارچ" in ur  # March


def test_names_are_escaped():
    report = report_sample.report()
    report.local_names[BA] = {"en": "<b>Mines</b> & Minerals"}
    page = render(report, "en")
    assert "&lt;b&gt;Mines&lt;/b&gt; &amp; Minerals" in page
    assert "<b>Mines</b>" not in page


def test_an_unknown_language_is_refused():
    assert language("zh-Hans").code == "zh"
    assert language(None).code == "en"
    with pytest.raises(ValueError, match="en, zh-Hans or ur"):
        language("fr")


def test_the_cli_defaults_to_the_auditor_organisations_preferred_language():
    from types import SimpleNamespace  # noqa: PLC0415

    from infra.cli.audit import reader_language  # noqa: PLC0415
    from schemas.common import Language  # noqa: PLC0415

    auditor = "urn:emining:xx:aud:eiti"
    registry = SimpleNamespace(orgs={auditor: SimpleNamespace(language=Language.UR)})
    built = SimpleNamespace(verify=SimpleNamespace(registry=registry))
    assert reader_language(built, auditor) == "ur"  # type: ignore[arg-type]
    assert reader_language(built, "platform-admin") == "en"  # type: ignore[arg-type]
    assert reader_language(built, None) == "en"  # type: ignore[arg-type]
    assert reader_language(SimpleNamespace(verify=None), auditor) == "en"  # type: ignore[arg-type]
