"""The console benchmark's core on a small demo year: every page kind asked exactly as often as
told, in every language, each answered, and a report of the promised shape (no timings judged)."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks.bench_console import DOWNLOADS, LANGS, Ask, World, build_world, plan, run, schedule
from infra.demo.scenario import generate

SCALE = 0.2
KINDS = {"public", "lead_times", "public_events", "login", "inbox", "projects", "project",
         "approvals", "approval", "approval_history", "shipments", "shipment", "act_index",
         "act_form", "audit", "audit_report"}


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build_world(tmp_path_factory.mktemp("bench-console"), scale=SCALE)
    yield built
    await built.close()


async def test_the_demo_year_is_folded_as_the_views_consumer_folds_it(world):
    year = generate(2026, scale=SCALE)
    data = world.data
    assert data["events"] == len(year.steps)
    assert data["records"] == len(year.steps) + len(year.attacks)
    assert data["applied"] == len(year.steps)  # every step of the year verified and applied
    assert data["rejected"] == len(year.attacks)  # every attack refused
    assert data["reused_store"] is False


async def test_the_core_asks_every_kind_as_often_as_told_and_reports_it(world):
    per_kind = 3
    result = await run(world, per_kind=per_kind, langs=LANGS, profile=1, top=5)
    assert set(result["kinds"]) == KINDS
    for kind, row in result["kinds"].items():
        assert row["requests"] == per_kind, kind
        assert row["unexpected"] == {}, kind  # every page answered 200
        assert row["page"] is (kind not in DOWNLOADS)
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    assert result["requests"] == per_kind * len(KINDS)
    assert result["overall"]["requests"] == per_kind * (len(KINDS) - len(DOWNLOADS))
    assert result["overall_with_downloads"]["requests"] == per_kind * len(KINDS)
    assert result["unexpected"] == 0
    assert result["langs"] == list(LANGS)
    assert result["target_met"] is (result["overall"]["p95_ms"] <= result["target_ms"])
    [(kind, rows)] = result["profile"].items()
    assert kind in KINDS
    assert len(rows) == 5
    assert {"function", "calls", "own_s", "cumulative_s"} == set(rows[0])


async def test_every_signed_in_role_and_the_public_are_asked(world):
    asks = await plan(world)
    assert set(asks) == KINDS
    roles = {a.role for kind in asks.values() for a in kind}
    assert roles == {"public", "officer", "firm", "auditor", "operator"}
    assert {a.role for a in asks["act_form"]} == {"officer", "firm"}
    assert {a.role for a in asks["audit"]} == {"auditor", "operator"}
    assert len(asks["project"]) == 4 * len({a.path for a in asks["project"]})


def test_the_schedule_cycles_every_request_and_language_evenly():
    asks = {"a": [Ask("a", "public", "/"), Ask("a", "public", "/x")],
            "b": [Ask("b", "firm", "/y")]}
    done = schedule(asks, ["en", "ur"], 8)
    assert len(done) == 16
    counted = Counter(done)
    assert set(counted.values()) == {2, 4}  # 4 pairs of kind a twice each, 2 of b four times
    assert {pair for pair, n in counted.items() if n == 4} == {
        (asks["b"][0], "en"), (asks["b"][0], "ur")}
    assert [ask.kind for ask, _ in done[:4]] == ["a", "b", "a", "b"]  # interleaved
