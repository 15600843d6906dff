"""The one table ``make bench`` prints: every benchmark's rows, their ratio to raw aiokafka in the
same run, latency, peak RSS, the issue's target and whether it was met.

Rows come from each benchmark's ``summary`` (``benchmarks.output.row``, written by
``--json-out``). Here the ratio is derived (rate / raw) and each target checked, so the rule
lives in one place: a target is met when every bound it names holds; a bound whose figure was
not measured counts as not met (a missing number is not a pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.table import Table

BOUNDS: tuple[tuple[str, str, str, str], ...] = (
    # target key, measured figure, comparison, how the target reads
    ("min_rate", "rate", ">=", "≥{v} {unit}"),
    ("min_ratio", "ratio", ">=", "≥{v} of raw"),
    ("max_p50_ms", "p50_ms", "<=", "p50 ≤{v} ms"),
    ("max_p95_ms", "p95_ms", "<=", "p95 ≤{v} ms"),
    ("max_p99_ms", "p99_ms", "<=", "p99 ≤{v} ms"),
    ("max_rss_mb", "rss_mb", "<=", "RSS ≤{v} MB"),
    ("max_slope_mb_per_100k", "slope_mb_per_100k", "<=", "memory flat (≤{v} MB per 100k)"),
)
COLUMNS = ("benchmark", "rate", "raw aiokafka", "ratio", "p50 / p95 / p99 ms", "peak RSS MB",
           "target", "met")


@dataclass(frozen=True, slots=True)
class Line:
    benchmark: str
    rate: str
    raw: str
    ratio: str
    latency: str
    rss: str
    target: str
    met: bool | None
    """None: the row has no target (informational)."""
    failed: tuple[str, ...]
    """The bounds not met, as they read (``"≥15k events/s"``)."""
    note: str

    def cells(self) -> tuple[str, ...]:
        met = "—" if self.met is None else "yes" if self.met else "no"
        return (self.benchmark, self.rate, self.raw, self.ratio, self.latency, self.rss,
                self.target, met)


def _number(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:g}"


def ratio(measured: Mapping[str, Any]) -> float | None:
    rate, raw = measured.get("rate"), measured.get("raw")
    if rate is None or not raw:
        return None
    return float(rate) / float(raw)


def check(measured: Mapping[str, Any]) -> tuple[bool | None, list[str], list[str]]:
    """(met, every bound as it reads, the bounds not met) for one summary row."""
    target: Mapping[str, float] = measured.get("target") or {}
    figures = {**measured, "ratio": ratio(measured)}
    texts, failed = [], []
    for key, figure, comparison, text in BOUNDS:
        if key not in target:
            continue
        bound = target[key]
        reads = text.format(v=_number(bound), unit=measured.get("unit", ""))
        texts.append(reads)
        value = figures.get(figure)
        ok = value is not None and (value >= bound if comparison == ">=" else value <= bound)
        if not ok:
            failed.append(reads)
    if not texts:
        return None, [], []
    return not failed, texts, failed


def line(measured: Mapping[str, Any]) -> Line:
    met, texts, failed = check(measured)
    r = ratio(measured)
    unit = measured.get("unit", "")
    latency = [measured.get(k) for k in ("p50_ms", "p95_ms", "p99_ms")]
    rss = measured.get("rss_mb")
    return Line(
        benchmark=measured["measure"],
        rate="—" if measured.get("rate") is None else f"{_number(measured['rate'])} {unit}",
        raw="—" if not measured.get("raw") else f"{_number(measured['raw'])} {unit}",
        ratio="—" if r is None else f"{r:.3f}",
        latency="—" if all(v is None for v in latency) else " / ".join(
            "—" if v is None else f"{v:g}" for v in latency),
        rss="—" if rss is None else f"{rss:g}" + (f" ({measured['rss_of']})"
                                                    if measured.get("rss_of") else ""),
        target="; ".join(texts) or "—",
        met=met,
        failed=tuple(failed),
        note=str(measured.get("note") or ""),
    )


def lines(results: Iterable[Mapping[str, Any]]) -> list[Line]:
    """Every summary row of every result document (``{"name", "result", "summary"}``)."""
    return [line(measured) for doc in results for measured in doc.get("summary", [])]


def rich_table(rows: Sequence[Line], title: str = "make bench") -> Table:
    table = Table(*COLUMNS, title=title)
    for item in rows:
        cells = list(item.cells())
        if item.met is not None:
            cells[-1] = "[green]yes[/]" if item.met else "[red]no[/]"
        table.add_row(*cells)
    return table


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")


def markdown(rows: Sequence[Line]) -> str:
    """The table for the README (GitHub markdown), notes under it."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(_md(c) for c in item.cells()) + " |" for item in rows]
    notes = [f"- {item.benchmark}: {item.note}" for item in rows if item.note]
    missed = [f"- {item.benchmark}: not met: {', '.join(item.failed)}"
              for item in rows if item.failed]
    if notes:
        out += ["", *notes]
    if missed:
        out += ["", *missed]
    return "\n".join(out) + "\n"
