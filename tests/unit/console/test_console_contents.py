"""What the console's pages say, checked against the views they read: corrections marked on
timelines, the inbox's deadlines with their dates (overdue ones marked), a shipment's leg, holds
and export approvals, and the project list's stage and operator filters.

The world is the console's (``tests.console_world``) with one more licence file, story 12's,
left deficient (a ``respond_by`` open) and its acknowledgement corrected by the authority."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from consumers.console import labels
from consumers.console.i18n import LANGS, Formats, term, zone_for
from consumers.console.pages_files import DEADLINE_HORIZON
from consumers.store_read import MAX_LIMIT, get_view, list_approvals, list_views, timeline
from consumers.views.models import PENDING
from schemas.common import Side
from tests.console_world import FIRM_A, PASSWORD, TODAY, World, build
from tests.integration.views import scenario

EN = LANGS["en"]
EXTRA = 12
"""The added story: its firm is FIRM_A (12 % 4 == 0) and BA_MMDD decides its licence."""
EXTRA_TITLE = scenario.ids_of(EXTRA)["title"]
CORRECTED_DUE = "2025-05-30"
"""The decision date the authority's correction puts in place of the acknowledged one."""


def _extra_steps() -> list[scenario.Step]:
    """Story 12's licence up to its deficiency notice (no resubmission, no decision), and the
    authority's correction of the acknowledgement's decision date."""
    story = scenario.story(EXTRA)
    kept = [s for s in story.steps
            if s.draft.event_id.endswith(("-received", "-acknowledged", "-deficiency"))]
    assert len(kept) == 3
    acknowledged = story.ids["acknowledged"]
    last = kept[-1].draft.time
    assert last is not None
    corrected = scenario.event(
        "pk.emining.approval.corrected", approval_ref=EXTRA_TITLE, holder_uscc=story.uscc,
        corrects_event_id=acknowledged,
        corrected_type="pk.emining.approval.licence.application.acknowledged.v1",
        reason="incorrect_data", explanation="Decision date keyed wrongly",
        replacement={"decision_due_on": CORRECTED_DUE})
    story.add(scenario.BA_MMDD, "ack-corrected", corrected, last + timedelta(days=1))
    return [*kept, story.steps[-1]]


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("console-contents"), _extra_steps())
    yield built
    await built.accounts.close()
    await built.store.close()


def _client(world: World, today: date = TODAY) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app(today=today)),
                             base_url="https://console.test")


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    signed = await client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token[1], "next": "/inbox"})
    assert signed.status_code == 303


def _text(fragment: str) -> str:
    """A fragment of HTML as its text: tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _event_rows(page: str) -> dict[str, tuple[str, str]]:
    """The timeline's rows: event id → (class attribute, row text)."""
    return {m[2]: (m[1], _text(m[3])) for m in re.finditer(
        r'<tr class="([^"]*)" data-event-id="([^"]+)">(.*?)</tr>', page, flags=re.DOTALL)}


async def _whole_timeline(world: World, subject: str) -> list[dict[str, Any]]:
    found = await timeline(world.store, subject, limit=MAX_LIMIT)
    assert found.next_cursor is None
    return found.items


# -- 1. corrections shown as corrections ---------------------------------------------------------

@pytest.mark.parametrize(("path", "subject"), [
    ("/projects/", scenario.ids_of(0)["project"]),  # story 0's last production report
    ("/projects/", scenario.ids_of(7)["project"]),
    ("/shipments/", scenario.ids_of(0)["shipment"]),  # story 0's assay (did not occur)
    ("/shipments/", scenario.ids_of(11)["shipment"]),
    ("/approvals/", EXTRA_TITLE),  # the added acknowledgement, corrected by the authority
])
async def test_a_timeline_marks_the_corrected_event_and_its_correction(world, path, subject):
    items = await _whole_timeline(world, subject)
    superseded = {e["event_id"]: e["superseded_by"] for e in items if e["superseded_by"]}
    corrections = {e["event_id"]: e["corrects"] for e in items if e["corrects"]}
    assert len(superseded) == len(corrections) == 1  # the scenario's one correction here
    assert set(superseded.values()) == set(corrections)
    async with _client(world) as client:
        await _sign_in(client, "eiti.auditor")
        page = await client.get(path + subject, params={"lang": "en"})
    assert page.status_code == 200
    rows = _event_rows(page.text)
    assert list(rows) == [e["event_id"] for e in items]  # every event, in the log's order
    for event_id, (classes, text) in rows.items():
        marks = set(classes.split())
        assert ("superseded" in marks) == (event_id in superseded), event_id
        assert ("correction" in marks) == (event_id in corrections), event_id
        if event_id in superseded:
            assert f"Superseded by the correction {superseded[event_id]}" in text
        else:
            assert "Superseded by" not in text
        if event_id in corrections:
            assert f"Correction of event {corrections[event_id]}" in text
        else:
            assert "Correction of event" not in text


async def test_the_history_counts_a_corrected_step_as_corrected_as_the_view_does(world):
    doc = await get_view(world.store, "approvals", EXTRA_TITLE)
    assert doc is not None
    assert doc["due"]["decision_due_on"] == CORRECTED_DUE  # the replacement, not the original
    items = await _whole_timeline(world, EXTRA_TITLE)
    superseded = next(e["event_id"] for e in items if e["superseded_by"])
    async with _client(world) as client:
        await _sign_in(client, "ba.officer")
        page = await client.get(f"/approvals/{EXTRA_TITLE}/history", params={"lang": "en"})
    assert page.status_code == 200
    steps = re.findall(r'<tr data-status="([^"]+)" data-event-id="([^"]+)"><td>(.*?)</td>',
                       page.text)
    # The corrected acknowledgement still entered "acknowledged" (the fold counts it, with its
    # replacement data): the steps are the statuses the view spent time in, then the current.
    assert [status for status, _, _ in steps] == [*doc["time_in_state"], doc["status"]]
    assert [status for status, _, _ in steps] == ["received", "acknowledged", "deficient"]
    for status, event_id, cell in steps:
        assert (event_id == superseded) == ("corrected" in _text(cell)), status
    spent = re.findall(r'<tr data-status="([^"]+)"(?: class="current")?><td>', page.text)
    assert set(spent) == {status for status, _, _ in steps}


# -- 2. inbox deadlines --------------------------------------------------------------------------

def _deadline_rows(page: str) -> list[tuple[str, str, str, bool]]:
    """The inbox's deadlines: (day as shown, what, file reference, marked overdue)."""
    table = re.search(r'<table id="deadlines">.*?</table>', page, flags=re.DOTALL)
    if table is None:
        return []
    rows = []
    for row in re.findall(r"<tr[^>]*>.*?</tr>", table[0], flags=re.DOTALL)[1:]:
        cells = re.findall(r"<td>(.*?)</td>", row, flags=re.DOTALL)
        ref = re.search(r"<code>([^<]+)</code>", cells[2])
        assert ref is not None
        overdue = 'class="overdue"' in row
        assert overdue == ("overdue" in _text(cells[0]))
        rows.append((_text(cells[0]).removesuffix(" overdue"), _text(cells[1]), ref[1], overdue))
    return rows


async def _expected_deadlines(world: World, filters: dict[str, Any], day: date,
                              ) -> list[tuple[str, str, str, bool]]:
    """From the views: each open due date (a pending file's service standard too) within the
    horizon, soonest first, as the inbox should show it in English."""
    fmt = Formats(EN, zone_for(Side.PK))
    found = await list_approvals(world.store, filters, today=day, limit=MAX_LIMIT)
    assert found.next_cursor is None
    rows = []
    for doc in found.items:
        dues = dict(doc["due"])
        if doc["standard_due_on"] and doc["status"] in PENDING:
            dues["standard_due_on"] = doc["standard_due_on"]
        for name, on in dues.items():
            when = date.fromisoformat(str(on)[:10])
            if when <= day + DEADLINE_HORIZON:
                rows.append((when, doc["ref"], name))
    return [(fmt.day(when), labels.DEADLINES[name], ref, when < day)
            for when, ref, name in sorted(rows)]


# The days the inbox is read on: each brings other kinds of deadline within four months.
DAYS = [TODAY, date(2025, 4, 20), date(2025, 7, 1), date(2027, 12, 1)]


@pytest.mark.parametrize(("username", "filters"), [
    ("ba.officer", {"authority": scenario.BA_MMDD}),
    ("firm.a.manager", {"party": [scenario.FIRMS[FIRM_A]]}),
])
async def test_the_inbox_lists_the_deadlines_of_the_files_held_or_decided(world, username,
                                                                          filters):
    kinds: set[str] = set()
    overdue = 0
    for day in DAYS:
        expected = await _expected_deadlines(world, filters, day)
        async with _client(world, day) as client:
            await _sign_in(client, username)
            page = await client.get("/inbox", params={"lang": "en"})
        assert page.status_code == 200
        shown = _deadline_rows(page.text)
        assert shown == expected, day
        kinds |= {what for _, what, _, _ in shown}
        overdue += sum(1 for *_, late in shown if late)
        if not expected:
            assert "Nothing due in the next four months." in page.text
    assert overdue > 0  # some were marked
    wanted = {"respond by", "decision due", "work to commence by", "expires"}
    if username == "firm.a.manager":  # its EIA is before BA-EPA, not BA-MMDD
        wanted.add("deemed approval")
    assert wanted <= kinds, wanted - kinds


async def test_the_inbox_shows_the_corrected_decision_date_and_the_open_deficiency(world):
    doc = await get_view(world.store, "approvals", EXTRA_TITLE)
    assert doc is not None
    respond_by = date.fromisoformat(doc["due"]["respond_by"])
    fmt = Formats(EN, zone_for(Side.PK))
    async with _client(world) as client:
        await _sign_in(client, "firm.a.manager")
        page = await client.get("/inbox", params={"lang": "en"})
    mine = [r for r in _deadline_rows(page.text) if r[2] == EXTRA_TITLE]
    assert (fmt.day(date.fromisoformat(CORRECTED_DUE)), "decision due", EXTRA_TITLE,
            False) in mine
    assert (fmt.day(respond_by), "respond by", EXTRA_TITLE, respond_by < TODAY) in mine
    acknowledged = scenario.story(EXTRA).steps  # the original date is gone
    original = next(s.draft.data for s in acknowledged
                    if s.draft.event_id.endswith("-acknowledged"))
    assert str(getattr(original, "decision_due_on")) != CORRECTED_DUE  # noqa: B009
    assert fmt.day(getattr(original, "decision_due_on")) not in {r[0] for r in mine}  # noqa: B009


# -- 3. a shipment's page ------------------------------------------------------------------------

def _facts(page: str) -> dict[str, str]:
    facts = re.search(r'<dl class="facts" id="shipment-facts">(.*?)</dl>', page, flags=re.DOTALL)
    assert facts is not None
    pairs = re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", facts[1], flags=re.DOTALL)
    return {_text(k): v for k, v in pairs}


@pytest.mark.parametrize("i", [0, 1, 4, 11])  # held still, never held, held and cleared, corrected
async def test_a_shipment_page_shows_its_leg_holds_and_export_approvals(world, i):
    subject = scenario.ids_of(i)["shipment"]
    doc = await get_view(world.store, "shipments", subject)
    assert doc is not None
    fmt = Formats(EN, zone_for(Side.PK))
    async with _client(world) as client:
        await _sign_in(client, "eiti.auditor")
        page = await client.get(f"/shipments/{subject}", params={"lang": "en"})
    assert page.status_code == 200
    facts = _facts(page.text)
    leg = doc["leg"]
    assert _text(facts["Leg"]) == (f"{labels.LEGS[leg['stage']]}: {leg['origin']} → "
                                   f"{leg['destination']}")
    assert _text(facts["Status"]) == labels.SHIPMENT_STATUSES[doc["status"]]
    linked = re.findall(r'<a href="/approvals/([^"]+)"><code>([^<]+)</code></a>',
                        facts["Export approvals relied on"])
    assert [ref for ref, _ in linked] == doc["approvals"] == [scenario.ids_of(i)["lpco"]]
    assert [ref for _, ref in linked] == doc["approvals"]
    holds = re.search(r'<table id="holds">.*?</table>', page.text, flags=re.DOTALL)
    if not doc["holds"]:
        assert holds is None
        assert "Never held." in page.text
        assert i % 4 != 0  # the scenario holds every fourth shipment
        return
    assert holds is not None
    assert i % 4 == 0
    rows = [[_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.DOTALL)]
            for r in re.findall(r"<tr>(.*?)</tr>", holds[0], flags=re.DOTALL)[1:]]
    assert rows == [[term("hold_reason", h["reason"], EN), h["detail"], fmt.moment(h["held_at"]),
                     fmt.moment(h["released_at"]) if h["released_at"] else "still held"]
                    for h in doc["holds"]]
    assert all(row[0] != "" for row in rows)
    still_held = i % 8 == 0  # every eighth shipment is never cleared
    assert (rows[-1][3] == "still held") == still_held == doc["on_hold"]


# -- 4. the project list's filters -------------------------------------------------------------

def _listed(page: str) -> list[str]:
    table = re.search(r'<table id="projects">.*?</table>', page, flags=re.DOTALL)
    assert table is not None
    return re.findall(r'<a href="/projects/([^"]+)"><code>', table[0])


async def test_the_project_list_filters_by_stage_and_by_operator(world):
    found = await list_views(world.store, "projects", {}, limit=MAX_LIMIT, cursor=None)
    docs = found.items
    assert len(docs) == 12
    operators = sorted({d["operator_uscc"] for d in docs})
    assert len(operators) == len(scenario.FIRMS)
    async with _client(world) as client:
        await _sign_in(client, "eiti.auditor")
        everything = _listed((await client.get("/projects", params={"lang": "en"})).text)
        assert sorted(everything) == sorted(d["project_id"] for d in docs)
        for stage in ("feasibility", "construction", "production"):
            page = await client.get("/projects", params={"stage": stage, "lang": "en"})
            want = sorted(d["project_id"] for d in docs if d["stage"] == stage)
            assert sorted(_listed(page.text)) == want, stage
            assert f"{len(want)} project" in page.text
        for operator in operators:
            page = await client.get("/projects", params={"operator": operator, "lang": "en"})
            want = sorted(d["project_id"] for d in docs if d["operator_uscc"] == operator)
            assert sorted(_listed(page.text)) == want, operator
            assert 0 < len(want) < len(docs)
            both = await client.get("/projects", params={"operator": operator,
                                                         "stage": "construction", "lang": "en"})
            assert sorted(_listed(both.text)) == sorted(
                d["project_id"] for d in docs
                if d["operator_uscc"] == operator and d["stage"] == "construction")
            assert f'<option value="{operator}" selected>' in page.text
        # An operator no project has lists none (not every project).
        nobody = await client.get("/projects", params={"operator": "91000000MA0000000X"})
        assert _listed(nobody.text) == []
