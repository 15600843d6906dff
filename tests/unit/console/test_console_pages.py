"""The console's pages over views built by the real consumer path: what each reader sees (the one
access policy), languages, sign-in with CSRF, and refusals answered as pages."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest

from consumers.console.page import SECURITY_HEADERS
from consumers.store_read import get_view
from consumers.views.standing import with_standing
from producers.authn import SESSION_COOKIE
from tests.console_world import FIRM_A, FIRM_B, PASSWORD, TODAY, World, build
from tests.integration.views import scenario

TITLE, SHIPMENT = scenario.ids_of(0)["title"], scenario.ids_of(0)["shipment"]
PROJECT = scenario.ids_of(0)["project"]
CONTRACT = "CC-2026-CU-017"  # the scenario's contract reference (commercial: parties only)


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("console"))
    yield built
    await built.accounts.close()
    await built.store.close()


def _client(world: World) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app()),
                             base_url="https://console.test")


async def _sign_in(client: httpx.AsyncClient, username: str, goto: str = "/inbox",
                   ) -> httpx.Response:
    form = await client.get("/login", params={"next": goto})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    return await client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token[1], "next": goto})


def _html_tag(page: str) -> str:
    found = re.search(r"<html[^>]*>", page)
    assert found is not None
    return found[0]


async def test_the_public_page_shows_the_register_and_lead_times_linked_to_their_events(world):
    async with _client(world) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert _html_tag(page.text) == '<html lang="en" dir="ltr">'
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value
        # Every title of the scenario is on the register, linking to its signed events.
        for i in range(12):
            ref = scenario.ids_of(i)["title"]
            assert f'<a href="/events/{ref}"' in page.text
        assert "8 Jan 2025" in page.text  # the first application, an English date
        # The figure's events: the public timeline without restricted fields.
        events = await client.get(f"/events/{TITLE}")
        assert events.status_code == 200
        assert "pk.emining.approval.licence.application.received.v1" in events.text
        assert "applicant.representative_cnic" in events.text  # named as withheld
        assert "emining.approvals.v1 / " in events.text
        assert (await client.get("/events/NO-SUCH-TITLE")).status_code == 404


async def test_the_language_is_switched_remembered_and_urdu_is_right_to_left(world):
    async with _client(world) as client:
        urdu = await client.get("/", params={"lang": "ur"})
        assert _html_tag(urdu.text) == '<html lang="ur" dir="rtl">'
        assert "<h1>لائسنس اور فیصلوں کا دورانیہ</h1>" in urdu.text
        assert "emining_lang=ur" in urdu.headers["set-cookie"]
        again = await client.get("/")  # the cookie keeps the choice
        assert _html_tag(again.text) == '<html lang="ur" dir="rtl">'
        chinese = await client.get("/", params={"lang": "zh-Hans"})
        assert _html_tag(chinese.text) == '<html lang="zh-Hans" dir="ltr">'
        assert "<h1>矿业权与审批用时</h1>" in chinese.text
        assert "2025年1月8日" in chinese.text  # Babel's date for zh-Hans
        assert "俾路支省" in chinese.text  # the province from the glossary


async def test_a_person_is_sent_to_sign_in_and_then_to_the_page_they_asked_for(world):
    async with _client(world) as client:
        refused = await client.get("/inbox")
        assert refused.status_code == 303
        assert refused.headers["location"] == "/login?next=%2Finbox"
        signed = await _sign_in(client, "ba.officer", "/projects?stage=production")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/projects?stage=production"
        cookie = signed.headers["set-cookie"]
        assert f"{SESSION_COOKIE}=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        inbox = await client.get("/inbox")
        assert inbox.status_code == 200
        # Its own organisation's alerts only, and the deadlines of the files it decides.
        assert "Application past its standard (en)" in inbox.text
        assert "Licence decided for firm A" not in inbox.text
        assert 'data-alert-stream="/v1/alerts/stream?lang=en"' in inbox.text
        pending = scenario.ids_of(8)["title"]  # every ninth story's licence is undecided
        assert f'<a href="/approvals/{pending}"><code>{pending}</code></a>' in inbox.text


async def test_sign_in_refuses_a_wrong_password_a_forged_form_and_a_foreign_next(world):
    async with _client(world) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        wrong = await client.post("/login", data={"username": "ba.officer", "password": "nope",
                                                  "csrf_token": token[1]})
        assert wrong.status_code == 401
        assert "Wrong username or password." in wrong.text
        assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
    async with _client(world) as elsewhere:  # a page on another site has no login cookie
        forged = await elsewhere.post("/login", data={
            "username": "ba.officer", "password": PASSWORD, "csrf_token": "guessed"})
        assert forged.status_code == 400
        assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    async with _client(world) as client:
        away = await _sign_in(client, "ba.officer", "//evil.example/steal")
        assert away.status_code == 303
        assert away.headers["location"] == "/inbox"


async def test_signing_out_needs_the_sessions_csrf_token(world):
    async with _client(world) as client:
        await _sign_in(client, "firm.a.manager")
        page = await client.get("/inbox")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        refused = await client.post("/logout", data={"csrf_token": "not-it"})
        assert refused.status_code == 403
        assert "<h1>" in refused.text  # answered as a page
        assert (await client.get("/inbox")).status_code == 200  # still signed in
        out = await client.post("/logout", data={"csrf_token": token[1]})
        assert out.status_code == 303
        assert (await client.get("/inbox")).status_code == 303  # back to sign-in


async def test_a_firm_reads_in_its_language_and_sees_commercial_terms_of_its_own_only(world):
    async with _client(world) as own, _client(world) as other:
        await _sign_in(own, "firm.a.manager")
        await _sign_in(other, "firm.b.manager")
        mine = await own.get(f"/shipments/{SHIPMENT}")
        assert _html_tag(mine.text) == '<html lang="zh-Hans" dir="ltr">'  # the firm's language
        assert CONTRACT in mine.text
        assert 'data-withheld="true"' not in mine.text
        theirs = await other.get(f"/shipments/{SHIPMENT}")
        assert theirs.status_code == 200  # rows are never hidden, restricted fields are
        assert CONTRACT not in theirs.text
        shown: dict[str, Any] = {m[0]: m[1] for m in re.findall(
            r'<dd class="([a-z-]+)">(.*?)</dd>', theirs.text, flags=re.DOTALL)}
        for field in ("buyer", "contract", "declared-value"):
            assert 'data-withheld="true"' in shown[field], field
        listed = await other.get("/shipments")
        row = re.search(rf'<tr data-shipment="{SHIPMENT}">.*?</tr>', listed.text, flags=re.DOTALL)
        assert row is not None
        assert 'data-withheld="true"' in row[0]
        own_row = next(r for r in re.findall(r'<tr data-shipment="[^"]+">.*?</tr>', listed.text,
                                             flags=re.DOTALL)
                       if scenario.FIRMS[FIRM_B] in r or "shanghai" in r)
        assert 'data-withheld="true"' not in own_row


async def test_approvals_show_the_clocks_of_the_views_on_the_day(world):
    async with _client(world) as client:
        await _sign_in(client, "ba.officer")
        page = await client.get("/approvals", params={"status": "pending", "lang": "en"})
        pending = scenario.ids_of(8)["title"]
        doc = await get_view(world.store, "approvals", pending)
        assert doc is not None
        standing = with_standing(doc, TODAY)
        row = re.search(rf'<tr[^>]*data-ref="{pending}">.*?</tr>', page.text, flags=re.DOTALL)
        assert row is not None
        days = re.search(r'class="num days-pending">([^<]*)<', row[0])
        assert days is not None
        assert days[1] == str(standing["days_pending"])
        assert standing["days_pending"] == (TODAY - date.fromisoformat(
            doc["received_at"][:10])).days
        assert "As of" not in page.text  # the day is said in the lede
        assert "20 Mar 2025" in page.text


async def test_a_project_page_shows_titles_approvals_and_who_signed_each_event(world):
    async with _client(world) as client:
        await _sign_in(client, "eiti.auditor")
        listed = await client.get("/projects", params={"mineral": "copper",
                                                       "province": "PK-BA"})
        assert f'href="/projects/{PROJECT}"' in listed.text
        none = await client.get("/projects", params={"mineral": "lithium"})
        assert "0 projects." in none.text
        page = await client.get(f"/projects/{PROJECT}")
        assert page.status_code == 200
        assert f'<a href="/approvals/{TITLE}"><code>{TITLE}</code></a>' in page.text
        first = re.search(r'<tr class="event[^"]*" data-event-id="([^"]+)">(.*?)</tr>',
                          page.text, flags=re.DOTALL)
        assert first is not None
        assert first[1].startswith(f"evt-{0:05d}-00-")
        assert f"{FIRM_A}/test" in first[2]  # the signing source
        assert re.search(r"emining\.projects\.v1 / \d+ / 0<", first[2])  # its log position
        assert (await client.get("/projects/PRJ-NONE")).status_code == 404
