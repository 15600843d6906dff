"""``audit report`` on a published scenario: the page shows the numbers the scenario implies."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import defaultdict

import pytest
from typer.testing import CliRunner

from consumers.audit.html import render
from consumers.audit.leadtimes import local_day, percentile
from consumers.audit.report import audit_report
from consumers.views.facts import day_start
from infra.cli import app
from schemas.events.approvals_other import add_months
from tests.integration.audit.test_cli import _args, _env
from tests.unit.audit.scenario import story
from tests.unit.audit.test_report import _Cells

pytestmark = pytest.mark.integration


def _expected(steps):
    """Lead days per (authority, title type) and the number of missed deadlines, from the steps."""
    received, due, authority, kind, leads = {}, {}, {}, {}, defaultdict(list)
    late = 0
    filed = {}
    for step in steps:
        data, name = step.data, step.data.TYPE.removeprefix("pk.emining.")
        if name == "approval.licence.application.received":
            received[data.title_number] = data.received_at
            authority[data.title_number], kind[data.title_number] = (
                data.licensing_authority, data.title_type.value)
        elif name == "approval.licence.application.acknowledged":
            due[data.title_number] = data.decision_due_on
        elif name in {"approval.licence.granted", "approval.licence.refused"}:
            day = getattr(data, "granted_on", None) or data.refused_on
            ref = data.title_number
            leads[(authority[ref], kind[ref])].append(
                (day_start(day) - received[ref]).total_seconds() / 86400)
            late += day > due[ref]
        elif name == "approval.environmental.filed":
            filed[data.file_number] = add_months(data.complete_on, 4)
        elif name == "approval.environmental.decided":
            late += data.decided_on > filed[data.file_number]
    return leads, late


async def test_the_report_renders_the_scenarios_lead_times_and_breaches(
    kafka_access, bus, parties
):
    steps = story(24)
    await bus.steps(steps)
    report, replayed = await audit_report(kafka_access, parties.trust_anchor,
                                          topics=bus.topics, workers=0)
    assert replayed.rejected == 0
    assert report.verify is not None
    assert report.verify.ok
    cells = _Cells()
    cells.feed(render(report))
    leads, late = _expected(steps)
    assert leads
    for (authority, category), days in leads.items():
        row = cells.rows[(("data-kind", "title"), ("data-authority", authority),
                          ("data-category", category))]
        assert row["decided"] == str(len(days))
        assert row["median_days"] == f"{statistics.median(days):.1f}"
        assert row["p90_days"] == f"{percentile(days, 0.9):.1f}"
    assert cells.ids["breach-count"] == str(late)
    assert cells.ids["digest"] == replayed.digest.sha256
    shipped = sum(int(fields["shipments"]) for key, fields in cells.rows.items()
                  if key and key[0][0] == "data-mineral")
    assert shipped == sum(1 for s in steps if s.data.TYPE == "pk.emining.shipment.planned")
    register = {x.title_number: x for x in report.register}
    first = next(s.data for s in steps
                 if s.data.TYPE == "pk.emining.approval.licence.application.received")
    assert register[first.title_number].application_date == local_day(
        first.received_at).isoformat()
    assert register[first.title_number].coordinates_wkt.startswith("POLYGON((61.8")


async def test_report_cli_writes_the_page_and_the_exports(kafka_access, bus, parties,
                                                          tmp_path):
    await bus.steps(story(4))
    out, csv_dir = tmp_path / "r.html", tmp_path / "csv"
    result = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["audit", "report", "--out", str(out), "--csv-dir", str(csv_dir), "--json",
         "--standard", "EL=30", "--workers", "0", *_args(bus)],
        env=_env(kafka_access, parties, tmp_path))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr  # stdout is the JSON document alone
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Licence register (EITI 2.3)" in page
    register = (csv_dir / "licence_register.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(register) == 1 + 4
    doc = json.loads(result.stdout)
    assert doc["standards_days"]["EL"] == 30
    assert len(doc["licence_register"]) == 4
