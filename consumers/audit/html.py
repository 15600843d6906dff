"""The report as one self-contained HTML page, in the auditor's language: a Jinja2 template
(``templates/report.html``, autoescaped) over the console's Babel catalogues, inline CSS and SVG,
nothing fetched from anywhere.

English, 简体中文 and اردو (right to left, in the console's Nastaliq font embedded in the page,
so the downloaded file reads the same anywhere). Codes are shown by their names: agencies and
firms by the registry's names in the reader's language, minerals, title types and stages by the
glossary's words, exit points, statuses and kinds of finding by the catalogues'. Dates and numbers
follow the reader's locale; times are Pakistan's, as the deadlines are.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from consumers.audit import charts as audit_charts
from consumers.audit import words
from consumers.audit.charts import BarChart, Outline, Strip, bar_chart, outline, timeline_strip
from consumers.audit.register import totals_by
from consumers.audit.report import Report
from consumers.console import charts as console_charts
from consumers.console import labels
from consumers.console.i18n import LANGS, Formats, Lang, lang_of, term, translations
from schemas.events.shipments_border import PAKISTAN_TIME

HERE = Path(__file__).parent
FONTS = HERE.parent / "console" / "static" / "fonts"
NASTALIQ = {400: "noto-nastaliq-urdu-arabic-400-normal.woff2",
            700: "noto-nastaliq-urdu-arabic-700-normal.woff2"}
HEAD, FOOT = {"ur": 10}, {"ur": 14}
"""Room above a chart's first label and under its axis figures, per language: Nastaliq's line
box reaches far above and below its baseline."""
NONE = "\u2013"
"""What an empty cell shows (an en dash)."""
SHOWN_ROWS = 200
"""Rows of a long table shown in the page; the CSV exports carry every row."""


@cache
def _environment(code: str) -> Environment:
    lang = LANGS[code]
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True,
                      undefined=StrictUndefined, extensions=["jinja2.ext.i18n"],
                      trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(translations(lang.catalogue),  # type: ignore[attr-defined]
                                     newstyle=True)
    return env


@cache
def _font_faces() -> str:
    """``@font-face`` rules carrying the console's Nastaliq font as ``data:`` URIs."""
    rules = []
    for weight, name in NASTALIQ.items():
        data = base64.b64encode((FONTS / name).read_bytes()).decode("ascii")
        rules.append("@font-face{font-family:'Noto Nastaliq Urdu';font-style:normal;"
                     f"font-weight:{weight};font-display:swap;"
                     f"src:url(data:font/woff2;base64,{data}) format('woff2')}}")
    return "".join(rules)


def language(code: str | None) -> Lang:
    """``en``, ``zh``/``zh-Hans`` or ``ur`` → the language (ValueError for any other)."""
    found = lang_of(code or "en")
    if found is None:
        raise ValueError(f"no report in {code!r}: en, zh-Hans or ur")
    return found


@dataclass(frozen=True, slots=True)
class ShipmentChart:
    field: str
    title: str
    chart: BarChart


@dataclass(frozen=True, slots=True)
class Words:
    """Translating and naming, for one language: what the template and the charts call."""

    report: Report
    lang: Lang

    def gettext(self, message: str) -> str:
        return str(translations(self.lang.catalogue).gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(translations(self.lang.catalogue).ngettext(singular, plural, n))

    def name(self, party: str | None) -> str:
        """An organisation's name in the reader's language (its URN, USCC or source)."""
        if not party:
            return ""
        return self.report.name_in(party.split("/", 1)[0], self.lang.code)

    def term(self, table: str, code: str | None) -> str:
        return term(table, code, self.lang)

    def label(self, table: str, code: str | None) -> str:
        found: dict[str, Any] = {
            "approval_status": labels.APPROVAL_STATUSES, "approval_kind": labels.APPROVAL_KINDS,
            "exit_point": labels.EXIT_POINTS, "finding": words.FINDING_KINDS,
            "lane": words.LANES, "breach": words.BREACHES}
        return self.gettext(labels.label(found[table], code)) if code else ""

    def category(self, kind: str, code: str) -> str:
        """A lead time's category: a title type, an assessment or a kind of LPCO."""
        return self.term("title_type" if kind == "title" else "approval_kind", code)

    def minerals(self, codes: str) -> str:
        comma = {"zh": "、", "ur": "، "}.get(self.lang.code, ", ")
        return comma.join(self.term("mineral", c) for c in codes.split("; ") if c)


def _lead_charts(r: Report, w: Words) -> list[console_charts.Chart]:
    by_kind: dict[str, list[tuple[str, Any]]] = {}
    for lt in r.lead_times:
        label = f"{w.name(lt.authority)} · {w.category(lt.kind, lt.category)}"
        by_kind.setdefault(lt.kind, []).append((label, lt))
    out = []
    for kind in ("title", "environmental", "export", *sorted(by_kind)):
        if kind in by_kind:
            drawn = console_charts.chart(kind, by_kind.pop(kind), rtl=w.lang.rtl)
            if drawn is not None:
                out.append(drawn)
    return out


def _shipment_charts(r: Report, w: Words, fmt: Formats) -> list[ShipmentChart]:
    gettext, ngettext = w.gettext, w.ngettext
    name_of: dict[str, Callable[[str], str]] = {
        "mineral": lambda code: w.term("mineral", code),
        "hs_heading": lambda code: code,
        "exit_point": lambda code: w.label("exit_point", code) if code != "-" else NONE,
    }
    titles = {"mineral": gettext("Shipments by mineral"),
              "hs_heading": gettext("Shipments by HS heading"),
              "exit_point": gettext("Shipments by exit point")}
    headings = {g.hs_heading: g.heading_name for g in r.shipments}
    out = []
    for field in ("mineral", "hs_heading", "exit_point"):
        items = []
        for code, (count, dmt) in totals_by(r.shipments, field).items():
            label = name_of[field](code)
            if field == "hs_heading" and headings.get(code):
                label = f"{code} {headings[code]}"
            figures = (ngettext("%(num)s shipment", "%(num)s shipments", count)
                       % {"num": fmt.number(count)}
                       + " · " + gettext("%(t)s dry tonnes") % {"t": fmt.number(dmt, 0)})
            items.append((label, float(dmt), figures))
        drawn = bar_chart(items, rtl=w.lang.rtl)
        if drawn is not None:
            out.append(ShipmentChart(field, titles[field], drawn))
    return out


def _strips(r: Report, w: Words) -> dict[str, Strip | None]:
    shown = r.projects[: r.projects_shown]
    return {story.project_id: timeline_strip(
        [(h.time, f"{h.subject}: {h.summary}", h.lane) for h in story.happenings],
        rtl=w.lang.rtl) for story in shown}


def _outlines(r: Report) -> dict[str, Outline | None]:
    return {x.title_number: outline(x.coordinates_wkt) for x in r.register[:SHOWN_ROWS]}


def render(r: Report, lang: str | Lang | None = None) -> str:
    """The whole page, in ``lang`` (en, zh/zh-Hans or ur; default English)."""
    chosen = lang if isinstance(lang, Lang) else language(lang)
    fmt = Formats(chosen, PAKISTAN_TIME)
    w = Words(r, chosen)
    v = r.verify
    template = _environment(chosen.code).get_template("report.html")
    return template.render(
        r=r, v=v, lang=chosen, fmt=fmt, w=w, shown_rows=SHOWN_ROWS,
        lead_charts=_lead_charts(r, w), colours=console_charts,
        lane_colours=audit_charts.LANE_COLOURS, tonnes=audit_charts.TONNES,
        shipment_charts=_shipment_charts(r, w, fmt), strips=_strips(r, w),
        outlines=_outlines(r), projects_shown=r.projects[: r.projects_shown],
        decided=sum(lt.decided for lt in r.lead_times),
        shipped=sum(g.shipments for g in r.shipments),
        font_faces=_font_faces() if chosen.rtl else "",
        head=HEAD.get(chosen.code, 0), foot=FOOT.get(chosen.code, 4),
        # the console's lead-time rows start 4 px from the edge: as far in as ours in Urdu
        rtl_shift=audit_charts.RTL_INSET - 4 if chosen.rtl else 0,
    )
