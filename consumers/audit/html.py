"""The report as one self-contained HTML page: inline CSS and SVG, nothing fetched from anywhere."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from consumers.audit.charts import Bar, bar_chart, timeline_strip
from consumers.audit.register import totals_by
from consumers.audit.report import Report

SHOWN_ROWS = 200
"""Rows of a long table shown in the page; the CSV exports carry every row."""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
 margin:2rem auto;max-width:1100px;color:#1b2631;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #1f6f8b}
table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem}
th,td{border-bottom:1px solid #e5e8e8;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f6f6;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d5dbdb;border-radius:6px;padding:.6rem .9rem;min-width:8rem}
.card b{display:block;font-size:1.4rem}.ok{color:#1e8449}.bad{color:#c0392b}.muted{color:#707b7c}
.chart{max-width:100%;height:auto}code{font-size:12px}details{margin:.4rem 0}
"""


def _cell(value: object, *, num: bool = False, field: str | None = None) -> str:
    attrs = ' class="num"' if num else ""
    if field:
        attrs += f' data-field="{escape(field)}"'
    return f"<td{attrs}>{escape(str(value))}</td>"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(head: Sequence[str], rows: Iterable[str], numeric: frozenset[int] = frozenset(),
           caption: str = "") -> str:
    cells = "".join(f'<th{" class=num" if i in numeric else ""}>{escape(h)}</th>'
                    for i, h in enumerate(head))
    return f"<table>{caption}<thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _more(total: int, what: str) -> str:
    if total <= SHOWN_ROWS:
        return ""
    return f'<p class="muted">{SHOWN_ROWS} of {total} {what} shown; the CSV export has all.</p>'


def _lead_times(r: Report) -> str:
    rows = []
    for lt in r.lead_times:
        share = "-" if lt.share_within is None else f"{100 * lt.share_within:.0f}%"
        rows.append(
            f'<tr data-kind="{escape(lt.kind)}" data-authority="{escape(lt.authority)}" '
            f'data-category="{escape(lt.category)}">'
            + _cell(lt.kind) + _cell(r.name(lt.authority)) + _cell(lt.category)
            + _cell(lt.decided, num=True, field="decided")
            + _cell(lt.pending, num=True, field="pending")
            + _cell(_days(lt.median_days), num=True, field="median_days")
            + _cell(_days(lt.p90_days), num=True, field="p90_days")
            + _cell(lt.standard_days or "-", num=True, field="standard_days")
            + _cell(f"{lt.within_standard} ({share})", num=True, field="within_standard")
            + "</tr>")
    bars = [Bar(f"{r.name(lt.authority)} · {lt.category}", lt.median_days, lt.p90_days,
                lt.standard_days, f"median {lt.median_days:.0f} d, p90 {lt.p90_days or 0:.0f} d")
            for lt in r.lead_times if lt.median_days is not None]
    chart = bar_chart(bars, unit="days from receipt to decision",
                      title="Lead time per agency and category: median (bar), p90 (line), "
                            "standard (red tick)")
    head = ("kind", "agency", "category", "decided", "pending", "median days", "p90 days",
            "standard days", "met deadline")
    return (f'<section id="lead-times"><h2>Approval lead times</h2>{chart}'
            + _table(head, rows, frozenset(range(3, 9))) + "</section>")


def _breaches(r: Report) -> str:
    rows = [
        f'<tr data-ref="{escape(b.ref)}">' + _cell(b.ref) + _cell(b.kind)
        + _cell(r.name(b.authority)) + _cell(b.category) + _cell(b.due_on.isoformat())
        + _cell(b.decided_on.isoformat() if b.decided_on else "undecided")
        + _cell(b.days_late, num=True, field="days_late") + _cell(b.what) + "</tr>"
        for b in r.breaches[:SHOWN_ROWS]
    ]
    body = (_table(("file", "kind", "agency", "category", "due", "decided", "days late", "what"),
                   rows, frozenset({6})) + _more(len(r.breaches), "breaches")
            if rows else '<p class="ok">No deadline was missed.</p>')
    return (f'<section id="breaches"><h2>Deadline breaches ({len(r.breaches)})</h2>{body}'
            "</section>")


def _shipments(r: Report) -> str:
    charts = []
    for field, title in (("mineral", "by mineral"), ("hs_heading", "by HS heading"),
                         ("exit_point", "by exit point")):
        totals = totals_by(r.shipments, field)
        bars = [Bar(k, float(dmt), note=f"{count} shipments, {dmt:,.0f} dmt")
                for k, (count, dmt) in totals.items()]
        charts.append(f"<h3>Shipments {title}</h3>"
                      + bar_chart(bars, unit="dry metric tonnes", title=f"Shipments {title}"))
    rows = [
        f'<tr data-mineral="{escape(g.mineral)}" data-heading="{escape(g.hs_heading)}" '
        f'data-exit="{escape(g.exit_point)}">' + _cell(g.mineral)
        + _cell(f"{g.hs_heading} {g.heading_name}") + _cell(g.exit_point)
        + _cell(g.shipments, num=True, field="shipments")
        + _cell(f"{g.dmt:,.3f}", num=True, field="dmt")
        + _cell(g.delivered, num=True, field="delivered") + "</tr>"
        for g in r.shipments
    ]
    table = _table(("mineral", "HS heading", "exit point", "shipments", "dry t", "delivered"),
                   rows, frozenset({3, 4, 5}))
    return f'<section id="shipments"><h2>Shipments</h2>{"".join(charts)}{table}</section>'


def _register(r: Report) -> str:
    rows = [
        f'<tr data-title="{escape(x.title_number)}">' + _cell(x.title_number)
        + _cell(x.title_type) + _cell(x.status) + _cell(f"{x.holder_name} ({x.holder_uscc})")
        + _cell(x.commodity) + _cell(x.application_date) + _cell(x.award_date or "-")
        + _cell(x.duration_years or "-", num=True) + _cell(x.area_km2, num=True)
        + f"<td><code>{escape(x.coordinates_wkt[:80])}</code></td></tr>"
        for x in r.register[:SHOWN_ROWS]
    ]
    head = ("title", "type", "status", "holder", "commodity", "applied", "awarded", "years",
            "km²", "coordinates (WGS84)")
    return ('<section id="register"><h2>Licence register (EITI 2.3)</h2>'
            + _table(head, rows, frozenset({7, 8})) + _more(len(r.register), "licences")
            + "</section>")


def _projects(r: Report) -> str:
    shown = r.projects[: r.projects_shown]
    parts = [(f'<section id="timelines"><h2>Project timelines ({len(shown)} of '
              f"{len(r.projects)})</h2>")]
    for story in shown:
        strip = timeline_strip([(h.time, f"{h.subject}: {h.summary}", h.lane)
                                for h in story.happenings])
        rows = [f"<tr>{_cell(h.time.date().isoformat())}{_cell(h.subject)}{_cell(h.summary)}"
                f"{_cell(h.by)}</tr>" for h in story.happenings]
        parts.append(f'<details id="{escape(story.project_id)}"><summary><b>'
                     f"{escape(story.project_id)}</b> {escape(story.name)} · "
                     f"{escape(story.operator)} · {escape(story.stage)} · "
                     f"{len(story.happenings)} events</summary>{strip}"
                     + _table(("date", "file", "what", "by"), rows) + "</details>")
    return "".join(parts) + "</section>"


def _findings(r: Report) -> str:
    v = r.verify
    if v is None:
        return ""
    counts = ", ".join(f"{n} {k}" for k, n in v.counts().items()) or "none"
    status = ('<p class="ok">Every record verified: signatures, keys, authority, chains.</p>'
              if v.ok else f'<p class="bad">{len(v.violations)} violation(s): {counts}</p>')
    rows = [
        f'<tr data-kind="{escape(f.kind.value)}">' + _cell(f.topic) + _cell(f.partition, num=True)
        + _cell(f.offset, num=True) + _cell(f.kind.value) + _cell(f.source or "-")
        + _cell(f.reason) + "</tr>"
        for f in v.findings[:SHOWN_ROWS]
    ]
    table = (_table(("topic", "partition", "offset", "kind", "source", "reason"), rows,
                    frozenset({1, 2})) if rows else "")
    return (f'<section id="findings"><h2>Verification</h2><p>{v.records:,} records checked, '
            f"{v.events:,} events from {v.sources} sources.</p>{status}{table}"
            + _more(len(v.findings), "findings") + "</section>")


def render(r: Report) -> str:
    """The whole page."""
    v = r.verify
    verdict = ("-" if v is None else '<b class="ok">OK</b>' if v.ok
               else f'<b class="bad">{len(v.violations)}</b>')
    cards = (("records replayed", f"<b>{r.records:,}</b>"),
             ("projects", f"<b>{len(r.projects):,}</b>"),
             ("licences", f"<b>{len(r.register):,}</b>"),
             ("decisions", f"<b>{sum(lt.decided for lt in r.lead_times):,}</b>"),
             ("deadline breaches", f'<b id="breach-count">{len(r.breaches):,}</b>'),
             ("shipments", f"<b>{sum(g.shipments for g in r.shipments):,}</b>"),
             ("violations", verdict))
    as_of = r.as_of.isoformat() if r.as_of else "the end of the log"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>E-Mining Bus audit report</title><style>{CSS}</style></head><body>"
        "<h1>E-Mining Bus audit report</h1>"
        f'<p class="muted">As of {escape(as_of)} · generated {r.generated_at:%Y-%m-%d %H:%M} UTC'
        f' · views digest <code id="digest">{escape(r.digest)}</code></p><div class="cards">'
        + "".join(f'<div class="card">{value}{escape(label)}</div>' for label, value in cards)
        + "</div>" + _lead_times(r) + _breaches(r) + _shipments(r) + _register(r)
        + _projects(r) + _findings(r)
        + '<h2>Method</h2><p class="muted">Lead time: from the receipt the application, filing '
        "or first LPCO step states, to the decision it states; p90: nine in ten files were "
        "decided within it. A file's deadline is the date its agency gave when acknowledging "
        "it, else receipt plus the standard period (illustrative standards, see "
        "schemas/standards.py); an environmental approval is deemed granted four "
        'months after a complete filing. "Met deadline" counts decisions on or before the '
        "file's deadline. "
        "Reproduce with <code>emining audit verify</code> and <code>emining audit replay"
        "</code>: the same log gives the same digest.</p></body></html>"
    )
