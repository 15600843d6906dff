"""``make bench``'s table: ratios to raw aiokafka and met flags derived from fixed result rows."""

from __future__ import annotations

from typing import Any

from benchmarks.output import row
from benchmarks.table import check, line, lines, markdown, ratio, rich_table

PUBLISH = row("publish", "SDK publish, 30,000 events", unit="events/s", rate=9_000,
              raw=36_000, rss_mb=180.0, target={"min_rate": 15_000, "min_ratio": 0.5,
                                                "max_rss_mb": 250})
VIEWS = row("views", "view sync, SQLite", unit="events/s", rate=12_000, raw=100_000,
            rss_mb=190.0, target={"min_rate": 10_000, "max_rss_mb": 250})
ALERTS = row("alerts", "publish → alert", unit="events/s", rate=1_000, p50_ms=14.0,
             p99_ms=75.0, rss_mb=120.0, target={"min_rate": 1000, "max_p50_ms": 15,
                                               "max_p99_ms": 60, "max_rss_mb": 250})
CONTRACT = row("contract", "build + sign", unit="events/s", rate=18_800)
FAT = row("views", "view sync, PostgreSQL", unit="events/s", rate=11_000, raw=100_000,
          rss_mb=400.0, target={"min_rate": 10_000, "max_rss_mb": 250})
NO_RSS = row("gateway", "gateway custodial", unit="req/s", rate=2_500, p99_ms=40.0,
             target={"min_rate": 2_000, "max_p99_ms": 50, "max_rss_mb": 250})


def _docs(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"name": r["benchmark"], "result": {}, "summary": [r]} for r in rows]


def test_ratio_is_rate_over_raw_and_absent_without_a_raw_rate() -> None:
    assert ratio(PUBLISH) == 0.25
    assert ratio(VIEWS) == 0.12
    assert ratio(ALERTS) is None
    assert line(PUBLISH).ratio == "0.250"
    assert line(ALERTS).ratio == "—"


def test_a_ratio_below_its_bound_fails_the_target_even_if_the_rate_passes() -> None:
    fast = {**PUBLISH, "rate": 16_000}  # ≥15k/s, but 16k / 36k = 0.44 < 0.5
    met, _, failed = check(fast)
    assert met is False
    assert failed == ["≥0.5 of raw"]
    met, _, failed = check({**fast, "raw": 30_000})  # 0.533
    assert met is True
    assert failed == []


def test_every_bound_is_checked_and_the_failed_ones_named() -> None:
    assert check(PUBLISH) == (False, ["≥15k events/s", "≥0.5 of raw", "RSS ≤250 MB"],
                              ["≥15k events/s", "≥0.5 of raw"])
    assert check(VIEWS)[0] is True
    assert check(ALERTS) == (False, ["≥1,000 events/s", "p50 ≤15 ms", "p99 ≤60 ms",
                                     "RSS ≤250 MB"], ["p99 ≤60 ms"])
    assert check(FAT)[2] == ["RSS ≤250 MB"]


def test_a_figure_not_measured_does_not_pass_its_bound() -> None:
    met, _, failed = check(NO_RSS)
    assert met is False
    assert failed == ["RSS ≤250 MB"]


def test_a_row_without_a_target_is_informational() -> None:
    assert check(CONTRACT) == (None, [], [])
    assert line(CONTRACT).cells()[-1] == "—"


def test_markdown_has_one_row_per_summary_row_with_its_ratio_and_met_flag() -> None:
    text = markdown(lines(_docs(PUBLISH, VIEWS, ALERTS, CONTRACT)))
    table = [ln for ln in text.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert table[0].startswith("| benchmark | rate | raw aiokafka | ratio |")
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in table[1:]]
    assert [(c[0], c[3], c[-1]) for c in cells] == [
        ("SDK publish, 30,000 events", "0.250", "no"),
        ("view sync, SQLite", "0.120", "yes"),
        ("publish → alert", "—", "no"),
        ("build + sign", "—", "—"),
    ]
    assert cells[0][1] == "9,000 events/s"
    assert cells[0][2] == "36k events/s"
    assert cells[2][4] == "14 / — / 75"
    assert "- SDK publish, 30,000 events: not met: ≥15k events/s, ≥0.5 of raw" in text
    assert "- publish → alert: not met: p99 ≤60 ms" in text


def test_the_rich_table_has_the_same_rows() -> None:
    table = rich_table(lines(_docs(PUBLISH, VIEWS)))
    assert table.row_count == 2
    assert [c.header for c in table.columns][3] == "ratio"
    assert list(table.columns[3].cells) == ["0.250", "0.120"]


def test_each_benchmarks_summary_feeds_the_table_with_its_target() -> None:
    from benchmarks import bench_publish, bench_views  # noqa: PLC0415 - heavier imports

    publish = bench_publish.summary({
        "events": 30_000, "mean_record_bytes": 742, "sdk_events_per_s": 16_000,
        "raw_aiokafka_events_per_s": 30_000, "peak_rss_mb": 120.0,
        "sdk_cpu_us_per_event": 60.0, "raw_cpu_us_per_event": 28.0, "cpu_ratio": 0.467})
    assert [(ln.ratio, ln.met) for ln in lines([{"summary": publish}])] == [("0.533", True)]
    views = bench_views.summary({
        "events": 10_000,
        "raw_aiokafka_json": {"events_per_s": 50_000},
        "views_sqlite": {"events_per_s": 12_000, "peak_rss_mib": 200.0},
        "views_postgresql": {"events_per_s": 9_000, "peak_rss_mib": 200.0}})
    got = [(ln.benchmark, ln.ratio, ln.met, ln.failed) for ln in lines([{"summary": views}])]
    assert got == [("view sync, SQLite, 10,000 events", "0.240", True, ()),
                   ("view sync, PostgreSQL, 10,000 events", "0.180", False,
                    ("≥10k events/s",))]


def test_the_audit_rows_take_each_commands_own_process_and_workers() -> None:
    from benchmarks import bench_audit  # noqa: PLC0415 - heavier imports

    result = {
        "events": 20_000, "raw_aiokafka_json": {"events_per_s": 80_000},
        "verify": {"events_per_s": 26_000, "events_per_cpu_s": 13_000},
        "replay": {"events_per_s": 11_000},
        # the publishing process's own peak is not the audit's
        "peak_rss_mb": {"after_publish": 400.0, "verify": 130.0, "verify_workers": 260.0,
                        "replay": 220.0, "replay_workers": 120.0}}
    got = [(ln.benchmark, ln.rss, ln.met, ln.failed)
           for ln in lines([{"summary": bench_audit.summary(result)}])]
    assert got == [("audit verify, 20,000 events", "260 (its process or a worker)", False,
                    ("RSS ≤250 MB",)),
                   ("audit replay, 20,000 events", "220 (its process or its worker)", True, ())]


def test_the_view_consumers_soak_row_counts_it_with_its_children_and_says_if_it_stayed_flat(
) -> None:
    from benchmarks import bench_views_soak  # noqa: PLC0415 - heavier imports

    def result(peak: float, slope: float, flat: bool) -> dict[str, Any]:
        return {"events": 1_000_000, "events_per_s": 2_000, "slope_mb_per_100k_events": slope,
                "flat": flat, "rss_mb": {"start": 150.0, "middle": 170.0, "end": 171.0,
                                         "peak": peak}}

    kept = lines([{"summary": bench_views_soak.summary(result(240.0, 0.2, True))}])
    assert [(ln.rss, ln.met) for ln in kept] == [
        ("240 (consumer + its verify worker)", True)]
    assert "slope 0.2 MB per 100k events after the first tenth (flat)" in kept[0].note
    grew = lines([{"summary": bench_views_soak.summary(result(260.0, 3.5, False))}])
    assert [(ln.met, ln.failed) for ln in grew] == [
        (False, ("RSS ≤250 MB", "memory flat (≤1 MB per 100k)"))]
    assert "(not flat)" in grew[0].note
    # under the bound but still growing: not met either (issue 18 names both)
    low = lines([{"summary": bench_views_soak.summary(result(240.0, 1.4, False))}])
    assert [(ln.met, ln.failed) for ln in low] == [(False, ("memory flat (≤1 MB per 100k)",))]
