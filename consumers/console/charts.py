"""The console's lead-time charts and a file's status history. Pure: rows in, geometry out.

A chart is inline SVG drawn by the template (``lead_times.html``) from ``Chart``: one row per
agency and category of file, its label on a line of its own above the bar (never clipped, in the
page's direction), the median as the bar, the 90th percentile as a whisker and the service
standard as a dark tick. Bars are green when the median is within the standard, red when over it,
grey without a standard; the figures are also written beside each bar (colour is never the only
cue). Right-to-left pages mirror the geometry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from schemas.lifecycles import leads_to, machine_of, reading

WIDTH = 720
ROW_H = 46
TOP = 8
VALUES_W = 230
"""Room kept after the longest bar for the figures written beside it."""
WITHIN, OVER, NO_STANDARD = "#2e7d32", "#c62828", "#546e7a"
"""Green within the standard, red over it, slate grey without one (contrast ≥ 4.5:1 on white)."""


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    median: float
    p90: float | None
    standard: float | None
    decided: int
    colour: str
    label_x: float
    label_y: float
    bar_x: float
    bar_w: float
    bar_y: float
    whisker: tuple[float, float] | None
    tick_x: float | None
    value_x: float
    anchor: str
    """How the texts hang off their x: always ``start``, which the text's ``direction`` (the
    page's) puts on the left or on the right."""
    label_anchor: str


@dataclass(frozen=True, slots=True)
class Chart:
    kind: str
    rows: tuple[Row, ...]
    height: int
    width: int
    scale_max: float
    ticks: tuple[tuple[float, float], ...]
    """(x, days) of the grid lines."""


def _nice(value: float) -> float:
    if value <= 0:
        return 10.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def colour_of(median: float, standard: float | None) -> str:
    if standard is None:
        return NO_STANDARD
    return WITHIN if median <= standard else OVER


def chart(kind: str, items: Iterable[tuple[str, Any]], *, rtl: bool) -> Chart | None:
    """One chart of ``(label, LeadTime)`` rows with a decision (None if there is none)."""
    rows_in = [(label, lt) for label, lt in items if lt.median_days is not None]
    if not rows_in:
        return None
    top = max(max(lt.median_days, lt.p90_days or 0, lt.standard_days or 0) for _, lt in rows_in)
    scale_max = _nice(top)
    plot_w = WIDTH - VALUES_W - 8

    def x(days: float) -> float:
        at = 4 + plot_w * days / scale_max
        return WIDTH - at if rtl else at

    rows = []
    for index, (label, lt) in enumerate(rows_in):
        y = TOP + index * ROW_H
        start, end = x(0), x(lt.median_days)
        p90 = lt.p90_days
        reach = max(lt.median_days, p90 or 0, lt.standard_days or 0)
        edge = x(reach)
        rows.append(Row(
            label=label, median=lt.median_days, p90=p90,
            standard=float(lt.standard_days) if lt.standard_days is not None else None,
            decided=lt.decided, colour=colour_of(lt.median_days, lt.standard_days),
            label_x=WIDTH - 4 if rtl else 4, label_y=y + 13,
            bar_x=min(start, end), bar_w=abs(end - start), bar_y=y + 20,
            whisker=(end, x(p90)) if p90 is not None and p90 > lt.median_days else None,
            tick_x=x(lt.standard_days) if lt.standard_days is not None else None,
            value_x=edge - 6 if rtl else edge + 6,
            # With direction="rtl" on the text, "start" is its right edge: it runs leftwards.
            anchor="start", label_anchor="start"))
    ticks = tuple((x(scale_max * i / 4), scale_max * i / 4) for i in range(5))
    return Chart(kind, tuple(rows), TOP + ROW_H * len(rows) + 24, WIDTH, scale_max, ticks)


def charts(lead_times: Iterable[Any], name: Callable[[str], str],
           category: Callable[[str, str], str], *, rtl: bool) -> list[Chart]:
    """A chart per kind of file (titles, environmental, export), agencies as rows."""
    by_kind: dict[str, list[tuple[str, Any]]] = {}
    for row in lead_times:
        lt = row.lead_time
        label = f"{name(lt.authority)} · {category(lt.kind, lt.category)}"
        by_kind.setdefault(lt.kind, []).append((label, lt))
    out = []
    for kind in ("title", "environmental", "export", *sorted(by_kind)):
        if kind in by_kind:
            drawn = chart(kind, by_kind.pop(kind), rtl=rtl)
            if drawn is not None:
                out.append(drawn)
    return out


# -- a file's status history ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stay:
    """One stay of a file in a status, from the timeline: entered by an event, left by the next."""

    status: str
    since: datetime
    until: datetime | None
    event_id: str
    type: str
    corrected: bool

    def days(self, now: datetime) -> float:
        return ((self.until or now) - self.since).total_seconds() / 86400


def _moment(value: Any) -> datetime:
    found = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def stays(timeline: Iterable[Mapping[str, Any]]) -> list[Stay]:
    """The statuses a file went through, in log order, as its timeline's events lead, as the
    fold counts them: a corrected event counts as corrected (its ``effective`` data, the stay
    marked ``corrected``); one that did not occur (superseded, no effective data) is skipped."""
    current: str | None = None
    out: list[Stay] = []
    for item in timeline:
        ce_type = str(item.get("type", ""))
        corrected = bool(item.get("superseded_by"))
        if machine_of(ce_type) is None or (corrected and item.get("effective") is None):
            continue
        data = item.get("effective") or item.get("data") or {}
        after = leads_to(ce_type, current, reading(ce_type, data))
        if after is None or after == current:
            continue
        since = _moment(item["time"])
        if out:
            out[-1] = Stay(out[-1].status, out[-1].since, since, out[-1].event_id, out[-1].type,
                           out[-1].corrected)
        out.append(Stay(after, since, None, str(item.get("event_id", "")), ce_type, corrected))
        current = after
    return out


def time_in_state(view: Mapping[str, Any], today: date) -> list[tuple[str, float, bool]]:
    """Days spent in each status (the view's ``time_in_state``, the current one counted from
    ``state_since`` to the start of ``today``): (status, days, current), longest first."""
    spent = {k: v / 86400 for k, v in dict(view.get("time_in_state") or {}).items()}
    status, since = view.get("status"), view.get("state_since")
    if status and since:
        now = datetime(today.year, today.month, today.day, tzinfo=UTC)
        spent[str(status)] = spent.get(str(status), 0) + max(
            (now - _moment(since)).total_seconds() / 86400, 0)
    return sorted(((k, v, k == status) for k, v in spent.items()), key=lambda r: -r[1])
