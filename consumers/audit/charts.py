"""The report's inline SVG, as geometry: rows in, positions out; ``templates/report.html`` draws.

No script, no CDN: the page reads printed or offline. Every chart puts its labels on a line of
their own above the bar (the full width is theirs: a long agency name is never clipped), writes
its figures beside the bar (colour is never the only cue) and mirrors right to left for Urdu.
The lead-time charts are the console's (``consumers.console.charts``: green within the standard,
red over it, grey without one); this module adds the shipment totals, the project timelines and
a licence's outline.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

WIDTH = 720
ROW_H = 46
TOP = 8
VALUES_W = 230
"""Room kept after the longest bar for the figures written beside it."""
TONNES = "#1f6f8b"
"""The one colour of the shipment bars: they all measure the same thing (dry tonnes)."""
LANE_COLOURS = {"project": "#0072b2", "licence": "#009e73", "environment": "#e69f00",
                "export": "#cc79a7", "shipment": "#56b4e9"}
"""Okabe-Ito colours (told apart with the common colour blindnesses), one per kind of file,
named by the lane they sit on and by the legend."""
LANE_W = 150
"""Room for a lane's name at the start of the timeline."""
RTL_INSET = 8
"""How far in from the right edge a right-to-left text starts: Nastaliq's first letter can
swing a few pixels past the point it is anchored at."""


@dataclass(frozen=True, slots=True)
class BarRow:
    label: str
    figures: str
    value: float
    colour: str
    label_x: float
    label_y: float
    bar_x: float
    bar_w: float
    bar_y: float
    value_x: float


@dataclass(frozen=True, slots=True)
class BarChart:
    rows: tuple[BarRow, ...]
    width: int
    height: int
    ticks: tuple[tuple[float, float], ...]
    """(x, value) of the grid lines."""


def nice_max(value: float) -> float:
    """A round number at or above ``value`` for the end of the scale."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def bar_chart(items: list[tuple[str, float, str]], *, rtl: bool, colour: str = TONNES,
              width: int = WIDTH) -> BarChart | None:
    """``(label, value, figures)`` rows: the label above its bar, the figures beside it."""
    if not items:
        return None
    scale_max = nice_max(max(value for _, value, _ in items))
    plot_w = width - VALUES_W - 8

    def x(value: float) -> float:
        at = 4 + plot_w * value / scale_max
        return width - at if rtl else at

    rows = []
    for index, (label, value, figures) in enumerate(items):
        y = TOP + index * ROW_H
        start, end = x(0), x(value)
        rows.append(BarRow(label=label, figures=figures, value=value, colour=colour,
                           label_x=width - RTL_INSET if rtl else 4, label_y=y + 13,
                           bar_x=min(start, end), bar_w=abs(end - start), bar_y=y + 20,
                           value_x=end - 6 if rtl else end + 6))
    ticks = tuple((x(scale_max * i / 4), scale_max * i / 4) for i in range(5))
    return BarChart(tuple(rows), width, TOP + ROW_H * len(rows) + 24, ticks)


@dataclass(frozen=True, slots=True)
class Dot:
    x: float
    y: float
    colour: str
    moment: datetime
    label: str


@dataclass(frozen=True, slots=True)
class Lane:
    kind: str
    y: float
    colour: str
    label_x: float
    line_from: float
    line_to: float


@dataclass(frozen=True, slots=True)
class Strip:
    lanes: tuple[Lane, ...]
    dots: tuple[Dot, ...]
    width: int
    height: int
    first: datetime
    last: datetime
    first_x: float
    last_x: float
    """Where the first and the last day are written (under the ends of the time axis)."""


def timeline_strip(points: list[tuple[datetime, str, str]], *, rtl: bool,
                   width: int = WIDTH) -> Strip | None:
    """``(moment, what, lane)`` points as dots on a time axis, one lane per kind of file; time
    runs in the page's direction."""
    if not points:
        return None
    order = list(LANE_COLOURS)
    kinds = sorted({kind for _, _, kind in points},
                   key=lambda k: (order.index(k) if k in order else len(order), k))
    first, last = min(p[0] for p in points), max(p[0] for p in points)
    span = max((last - first).total_seconds(), 1.0)
    plot_w = width - LANE_W - 14

    def x(moment: datetime) -> float:
        at = LANE_W + 4 + plot_w * (moment - first).total_seconds() / span
        return width - at if rtl else at

    def y(kind: str) -> float:
        return 16 + kinds.index(kind) * 26

    def colour(kind: str) -> str:
        return LANE_COLOURS.get(kind, "#5d6d7e")

    lanes = tuple(Lane(kind, y(kind), colour(kind), width - RTL_INSET if rtl else 4,
                       x(first), x(last)) for kind in kinds)
    dots = tuple(Dot(x(moment), y(kind), colour(kind), moment, label)
                 for moment, label, kind in points)
    return Strip(lanes, dots, width, 26 * len(kinds) + 34, first, last, x(first), x(last))


# -- a licence's boundary -----------------------------------------------------------------

MIN_CORNERS = 3
_POINT = re.compile(r"(-?\d+(?:\.\d+)?)\s+(-?\d+(?:\.\d+)?)")


def wkt_points(wkt: str) -> list[tuple[Decimal, Decimal]]:
    """``POLYGON((lon lat, ...))`` (the register's WGS84 boundary) → ``[(lon, lat), ...]``."""
    return [(Decimal(lon), Decimal(lat)) for lon, lat in _POINT.findall(wkt)]


@dataclass(frozen=True, slots=True)
class Outline:
    """A boundary as its bounding box in degrees and a small drawing of its shape."""

    south: Decimal
    north: Decimal
    west: Decimal
    east: Decimal
    points: str
    """The polygon's ``points`` in a square box ``size`` pixels wide, north up."""
    size: int


def outline(wkt: str, *, size: int = 40) -> Outline | None:
    """The boundary's box and shape, longitudes shrunk by the cosine of the latitude so the
    drawing keeps the shape it has on the ground (None without a boundary)."""
    found = wkt_points(wkt)
    if len(found) < MIN_CORNERS:
        return None
    lons, lats = [p[0] for p in found], [p[1] for p in found]
    south, north, west, east = min(lats), max(lats), min(lons), max(lons)
    shrink = math.cos(math.radians(float(south + north) / 2))
    across = float(east - west) * shrink
    tall = float(north - south)
    scale = (size - 4) / max(across, tall, 1e-9)
    left = (size - across * scale) / 2
    top = (size - tall * scale) / 2
    points = " ".join(
        f"{left + float(lon - west) * shrink * scale:.1f},"
        f"{top + float(north - lat) * scale:.1f}" for lon, lat in found)
    return Outline(south, north, west, east, points, size)
