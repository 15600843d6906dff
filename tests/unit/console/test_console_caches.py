"""What the console no longer repeats per request (issue 16, ``benchmarks/bench_console.py``):
one session lookup per page, the views' digest and the public tables computed again only when the
views move, a project's timeline judged without reading its derived titles and offtake, Babel's
dates and numbers kept once formatted."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from babel.dates import format_date
from babel.numbers import format_decimal

from consumers.api_public import PublicData
from consumers.console.i18n import LANGS, Formats, _as_date
from consumers.digest import digest
from consumers.dlq import DeadLetterQueue
from consumers.store import ViewStore
from consumers.store_read import get_view
from consumers.sync import ViewSync
from schemas.events.shipments_border import PAKISTAN_TIME
from tests.console_world import PASSWORD, World, build
from tests.integration.views import scenario
from tests.unit.views.harness import Log, WholeLogControl, stage_for

PROJECT = scenario.ids_of(0)["project"]


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("console-caches"))
    yield built
    await built.accounts.close()
    await built.store.close()


def _client(world: World) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app()),
                             base_url="https://console.test")


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = await client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token[1], "next": "/inbox"})
    assert done.status_code == 303


async def test_a_page_looks_its_session_up_once(world, monkeypatch):
    looked: list[str] = []
    real = world.accounts.session

    async def counted(token: str) -> Any:
        looked.append(token)
        return await real(token)

    monkeypatch.setattr(world.accounts, "session", counted)
    async with _client(world) as client:
        await _sign_in(client, "firm.a.manager")
        looked.clear()
        inbox = await client.get("/inbox")
        assert inbox.status_code == 200
        # the session's CSRF token is on the page (the sign-out form), from that one lookup
        assert 'name="csrf_token"' in inbox.text
        assert len(looked) == 1
        looked.clear()
        form = await client.get("/act/production")
        assert form.status_code == 200
        assert "Manager of firm A" in form.text  # the person's name, from the same session
        assert len(looked) == 1
        assert world.accounts.session is counted  # (the patch held for every lookup)


async def test_the_public_digest_is_the_views_digest_and_follows_the_views(tmp_path):
    log = Log()
    records = [r for steps in scenario.build(3).rounds() for r in log.records(steps)]
    logs: dict[tuple[str, int], list[Any]] = {}
    for r in records:
        logs.setdefault((r.topic, r.partition), []).append(r)
    store = ViewStore(f"sqlite+aiosqlite:///{tmp_path / 'views.sqlite'}")
    await store.open()
    try:
        sync = ViewSync(store, stage_for(scenario.registry()), DeadLetterQueue(None, "dlq", "t"))
        control = WholeLogControl(logs)
        half = len(records) // 5
        await sync.apply(records[:half], control)
        public = PublicData(store, scenario.registry)
        first = await public.digest()
        assert first == await digest(store)
        assert first.rows["timeline"] == half
        assert await public.digest() is first  # the views did not move: not read again
        licences = await public.licences()
        await sync.apply(records[half:], control)
        moved = await public.digest()
        assert moved == await digest(store)
        assert moved.sha256 != first.sha256
        assert moved.rows["timeline"] == len(records)
        fresh = PublicData(store, scenario.registry)  # nothing cached
        assert await public.licences() == await fresh.licences() != licences  # followed too
        assert await public.lead_times() == await fresh.lead_times()
    finally:
        await store.close()


async def test_a_projects_derived_titles_are_read_only_when_asked_for(world):
    full = await get_view(world.store, "projects", PROJECT)
    stored = await get_view(world.store, "projects", PROJECT, derived=False)
    assert full is not None
    assert stored is not None
    # the stored document has no title files; they are read from the approvals view
    assert stored["title_files"] == []
    assert [f["title_number"] for f in full["title_files"]] == full["titles"] != []
    for key in ("operator_uscc", "province", "kind", "project_id"):  # what the policy reads
        assert stored.get(key) == full.get(key)


def test_kept_dates_and_numbers_are_what_babel_says():
    for lang in LANGS.values():
        fmt = Formats(lang, PAKISTAN_TIME)
        for value in (date(2025, 1, 8), "2025-07-01T10:00:00+00:00",
                      datetime(2026, 2, 28, 23, tzinfo=UTC)):
            expected = format_date(_as_date(value), "medium", locale=lang.locale)
            assert fmt.day(value) == expected
            assert fmt.day(value) == expected  # asked again: the kept text
        for number, digits in (("1.0", None), ("1.00", 2), (1234.5, 0), ("12.3456", None),
                               (Decimal("0.5"), 1)):
            pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
            expected = format_decimal(Decimal(str(number)), format=pattern, locale=lang.locale)
            assert fmt.number(number, digits) == fmt.number(number, digits) == expected
    zh = Formats(LANGS["zh"], PAKISTAN_TIME)
    assert zh.day(date(2025, 1, 8)) == "2025年1月8日"
    en = Formats(LANGS["en"], PAKISTAN_TIME)
    assert (en.number("1.00", 2), en.number("1.0", 1), en.number("oops")) == ("1.00", "1.0", "oops")
