"""Small inline SVG charts for the report: no script, no CDN, readable printed or offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

PALETTE = ("#1f6f8b", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#5d6d7e")
LABEL_W = 260
ROW_H = 24
LABEL_CHARS = 40


@dataclass(frozen=True, slots=True)
class Bar:
    """A labelled value; ``whisker`` draws a line on to a second value, ``marker`` a red tick."""

    label: str
    value: float
    whisker: float | None = None
    marker: float | None = None
    note: str = ""


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def bar_chart(bars: list[Bar], *, unit: str, title: str, width: int = 720) -> str:
    """Horizontal bars: median as the bar, p90 as the whisker, the standard as a red tick."""
    if not bars:
        return ""
    top = max(max(b.value, b.whisker or 0, b.marker or 0) for b in bars)
    scale_max = _nice_max(top)
    plot_w = width - LABEL_W - 90
    height = ROW_H * len(bars) + 46

    def x(value: float) -> float:
        return LABEL_W + plot_w * value / scale_max

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(title)}" class="chart">'),
             f"<title>{escape(title)}</title>"]
    for i in range(5):
        tick = scale_max * i / 4
        parts.append(f'<line x1="{x(tick):.1f}" y1="8" x2="{x(tick):.1f}" y2="{height - 30}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 14}" font-size="11" '
                     f'text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{width - 4}" y="{height - 2}" font-size="11" '
                 f'text-anchor="end">{escape(unit)}</text>')
    for row, bar in enumerate(bars):
        y = 10 + row * ROW_H
        color = PALETTE[row % len(PALETTE)]
        label = bar.label if len(bar.label) <= LABEL_CHARS else bar.label[: LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" font-size="12" text-anchor="end">'
                     f'<title>{escape(bar.label)}</title>{escape(label)}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{x(bar.value) - LABEL_W:.1f}" '
                     f'height="{ROW_H - 8}" fill="{color}"/>')
        if bar.whisker is not None:
            parts.append(f'<line x1="{x(bar.value):.1f}" y1="{y + ROW_H / 2 - 1}" '
                         f'x2="{x(bar.whisker):.1f}" y2="{y + ROW_H / 2 - 1}" stroke="{color}" '
                         'stroke-width="2"/>')
        if bar.marker is not None:
            parts.append(f'<line x1="{x(bar.marker):.1f}" y1="{y}" x2="{x(bar.marker):.1f}" '
                         f'y2="{y + ROW_H - 2}" stroke="#e74c3c" stroke-width="3"/>')
        end = max(bar.value, bar.whisker or 0)
        parts.append(f'<text x="{x(end) + 4:.1f}" y="{y + 14}" font-size="11">'
                     f'{escape(bar.note or f"{bar.value:g}")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def timeline_strip(points: list[tuple[datetime, str, str]], *, width: int = 720) -> str:
    """Dots on a time axis, one lane per subject kind; each dot's tooltip says what happened."""
    if not points:
        return ""
    lanes = sorted({kind for _, _, kind in points})
    first, last = min(p[0] for p in points), max(p[0] for p in points)
    span = max((last - first).total_seconds(), 1.0)
    plot_w = width - 130
    height = 22 * len(lanes) + 30
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'class="chart strip">')]
    for lane, kind in enumerate(lanes):
        y = 14 + lane * 22
        parts.append(f'<text x="4" y="{y + 4}" font-size="11">{escape(kind)}</text>')
        parts.append(f'<line x1="120" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#ccc"/>')
    for moment, label, kind in points:
        cx = 120 + plot_w * (moment - first).total_seconds() / span
        cy = 14 + lanes.index(kind) * 22
        color = PALETTE[lanes.index(kind) % len(PALETTE)]
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy}" r="5" fill="{color}">'
                     f'<title>{escape(moment.date().isoformat())}: {escape(label)}</title>'
                     '</circle>')
    parts.append(f'<text x="120" y="{height - 4}" font-size="11">{first.date()}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 4}" font-size="11" text-anchor="end">'
                 f'{last.date()}</text></svg>')
    return "".join(parts)
