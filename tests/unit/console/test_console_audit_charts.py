"""The lead-time charts (inline SVG: every agency's row labelled in full, coloured by its median
against the standard, mirrored right to left), a file's status history from its view and its
signed events, and the audit pages that only auditors and operators open."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import httpx
import pytest

from consumers.api_public import PublicData
from consumers.audit.findings import Finding, Kind, VerifyReport
from consumers.audit.state import summary
from consumers.console import charts
from consumers.console.pages_audit import FINDINGS_SHOWN, AuditBusyError
from consumers.store_read import get_view
from tests.console_world import PASSWORD, TODAY, World, build
from tests.integration.views import scenario

DECIDED = scenario.ids_of(0)["title"]


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("console-audit"))
    yield built
    await built.accounts.close()
    await built.store.close()


FORGED = Finding("emining.approvals.v1", 3, 17, "evt-forged", f"{scenario.BA_MMDD}/desk",
                 Kind.BAD_SIGNATURE, "the signature does not verify")


def _client(world: World, asked: list[tuple[date, bool]] | None = None) -> httpx.AsyncClient:
    async def verify() -> VerifyReport:
        return VerifyReport(records=321, findings=[FORGED])

    async def state_as_of(day: date, late: bool) -> dict[str, dict[str, int]]:
        (asked if asked is not None else []).append((day, late))
        return await summary(world.store, today=day)

    app = world.app(verify=verify, state_as_of=state_as_of)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="https://console.test")


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    await client.post("/login", data={"username": username, "password": PASSWORD,
                                      "csrf_token": token[1], "next": "/inbox"})


async def test_the_lead_time_chart_draws_each_agency_against_its_standard(world):
    rows = await PublicData(world.store, lambda: world.registry).lead_times()
    async with _client(world) as client:
        page = await client.get("/lead-times", params={"lang": "en"})
        assert page.status_code == 200
        drawn = [(html.unescape(label), colour) for label, colour in re.findall(
            r'<g class="row" data-label="([^"]+)" data-colour="([^"]+)">', page.text)]
        decided = [r for r in rows if r.lead_time.median_days is not None]
        assert len(drawn) == len(decided) > 0
        for row in decided:
            lt = row.lead_time
            label = next(lbl for lbl, _ in drawn if lbl.startswith(row.authority_name))
            colour = dict(drawn)[label]
            expected = charts.WITHIN if lt.standard_days is not None and \
                lt.median_days <= lt.standard_days else charts.OVER
            if lt.standard_days is None:
                expected = charts.NO_STANDARD
            assert colour == expected
            # The label is a whole line of its own: nothing cut off.
            assert f'direction="ltr" fill="#111">{html.escape(label, quote=False)}</text>' \
                in page.text
        urdu = await client.get("/lead-times", params={"lang": "ur"})
        first = re.search(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="start" direction="rtl"',
                          urdu.text)
        assert first is not None
        assert float(first[1]) == charts.WIDTH - 4  # labels hang from the right edge


def test_bars_are_mirrored_right_to_left_and_coloured_by_the_standard():
    class LT:
        median_days, p90_days, standard_days, decided = 30.0, 80.0, 60, 4

    ltr = charts.chart("title", [("Agency · EL", LT())], rtl=False)
    rtl = charts.chart("title", [("Agency · EL", LT())], rtl=True)
    assert ltr is not None
    assert rtl is not None
    a, b = ltr.rows[0], rtl.rows[0]
    assert a.colour == charts.WITHIN
    assert ltr.scale_max == 100  # the axis ends at a round number above the p90
    assert a.bar_w > 0
    assert a.bar_w == pytest.approx(b.bar_w)
    assert a.bar_x == pytest.approx(4)
    assert b.bar_x + b.bar_w == pytest.approx(charts.WIDTH - 4)
    assert a.tick_x == pytest.approx(charts.WIDTH - b.tick_x)
    LT.median_days = 61.0
    assert charts.chart("title", [("x", LT())], rtl=False).rows[0].colour == charts.OVER


async def test_a_files_status_history_follows_its_signed_events(world):
    doc = await get_view(world.store, "approvals", DECIDED)
    assert doc is not None
    async with _client(world) as client:
        await _sign_in(client, "firm.a.manager")
        page = await client.get(f"/approvals/{DECIDED}/history", params={"lang": "en"})
        assert page.status_code == 200
        steps = re.findall(r'<tr data-status="([a-z_]+)" data-event-id="([^"]+)">', page.text)
        statuses = [s for s, _ in steps]
        assert statuses[0] == "received"
        assert statuses[-1] == doc["status"]  # where the file stands now
        assert steps[0][1].startswith("evt-00000-")  # the scenario's first event of story 0
        spent = dict(re.findall(r'<tr data-status="([a-z_]+)"(?: class="current")?><td>.*?'
                                r'class="num days">([^<]+)<', page.text))
        for status, seconds in doc["time_in_state"].items():
            assert spent[status] == f"{seconds / 86400:,.1f}"
        assert (await client.get(f"/approvals/{DECIDED}")).text.count(
            f'href="/approvals/{DECIDED}/history"') == 1


async def test_audit_pages_are_for_auditors_and_show_findings_state_and_report(world):
    asked: list[tuple[date, bool]] = []
    async with _client(world, asked) as auditor, _client(world) as firm:
        await _sign_in(auditor, "eiti.auditor")
        await _sign_in(firm, "firm.a.manager")
        assert (await firm.get("/audit")).status_code == 403
        assert (await firm.get("/audit/report.html")).status_code == 403
        assert 'href="/audit"' not in (await firm.get("/inbox")).text
        page = await auditor.get("/audit", params={"lang": "en"})
        assert page.status_code == 200
        assert 'href="/audit"' in page.text
        verified = await auditor.get("/audit/verify")
        row = re.search(r'<tr data-kind="bad_signature">.*?</tr>', verified.text, flags=re.DOTALL)
        assert row is not None
        assert "emining.approvals.v1 / 3 / 17" in row[0]
        assert 'class="records">321<' in verified.text
        state = await auditor.get("/audit", params={"as_of": "2025-02-01"})
        assert asked == [(date(2025, 2, 1), False)]
        assert "whenever it was appended" not in state.text
        late = await auditor.get("/audit", params={"as_of": "2025-02-01", "late": "true"})
        assert asked[-1] == (date(2025, 2, 1), True)
        assert "whenever it was appended" in late.text
        assert re.search(r'id="late"[^>]* checked', late.text)
        expected = await summary(world.store, today=date(2025, 2, 1))
        for status, count in expected["approvals"].items():
            assert re.search(rf'<tr data-status="{status}"><td><code>[^<]+</code></td>'
                             rf'<td class="num">{count}</td>', state.text), status
        report = await auditor.get("/audit/report.html")
        assert report.status_code == 200
        assert report.headers["content-disposition"].startswith("attachment;")
        assert DECIDED in report.text  # the licence register of the views
        assert '<html lang="en" dir="ltr">' in report.text
        # in the reader's console language: the one chosen on the console's pages
        await auditor.get("/audit", params={"lang": "ur"})  # remembered in a cookie
        urdu = (await auditor.get("/audit/report.html")).text
        assert '<html lang="ur" dir="rtl">' in urdu
        assert "<h1>ای-مائننگ بس آڈٹ رپورٹ</h1>" in urdu
        chinese = (await auditor.get("/audit/report.html", params={"lang": "zh-Hans"})).text
        assert "<h1>电子矿业总线审计报告</h1>" in chinese
    assert TODAY.year == 2025


async def test_audit_pages_refuse_days_out_of_range_answer_busy_and_cap_findings(world):
    asked: list[tuple[date, bool]] = []
    many = [Finding("emining.approvals.v1", 0, n, f"evt-{n}", f"{scenario.BA_MMDD}/desk",
                    Kind.BAD_SIGNATURE, "the signature does not verify") for n in range(620)]
    busy = {"now": False}

    async def verify() -> VerifyReport:
        if busy["now"]:
            raise AuditBusyError
        return VerifyReport(records=700, findings=many)

    async def state_as_of(day: date, late: bool) -> dict[str, dict[str, int]]:
        if busy["now"]:
            raise AuditBusyError
        asked.append((day, late))
        return await summary(world.store, today=day)

    app = world.app(verify=verify, state_as_of=state_as_of)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://console.test") as auditor:
        await _sign_in(auditor, "eiti.auditor")
        # Days before FIRST_DAY or after today (in the world: TODAY) start no replay.
        for day in ("1999-12-31", (TODAY + timedelta(days=1)).isoformat(),
                    "9999-12-31", "0001-01-01"):
            page = await auditor.get("/audit", params={"as_of": day, "lang": "en"})
            assert page.status_code == 200
            assert "Give a day from" in page.text, day
        assert asked == []
        inside = await auditor.get("/audit", params={"as_of": TODAY.isoformat()})
        assert asked == [(TODAY, False)]
        assert "Give a day from" not in inside.text
        # At most FINDINGS_SHOWN findings listed, the rest counted.
        verified = await auditor.get("/audit/verify", params={"lang": "en"})
        assert verified.text.count('<tr data-kind="bad_signature">') == FINDINGS_SHOWN
        assert f"and {len(many) - FINDINGS_SHOWN} more" in verified.text
        # While another whole-log read runs: 429 and a page that says so.
        busy["now"] = True
        for path, params in (("/audit/verify", {}), ("/audit", {"as_of": TODAY.isoformat()})):
            page = await auditor.get(path, params={**params, "lang": "en"})
            assert page.status_code == 429, path
            assert "An audit run is in progress" in page.text
