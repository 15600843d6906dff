"""Acting from the console: forms posted with the session's CSRF token go through the real
gateway state (custody, receipts, authority, time and lifecycle checks) to a recording sender;
the receipt names the person and the log position; refusals publish nothing and say why in the
page's language; only people the policy lets act see the forms."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest

from consumers.store_read import get_view
from producers.gateway import submit
from schemas.envelope_read import from_record
from tests.console_world import FIRM_A, FIRM_B, PASSWORD, TODAY, World, build, gateway
from tests.integration.views import scenario

PENDING = scenario.ids_of(8)["title"]  # every ninth story's licence is undecided
DECIDED = scenario.ids_of(0)["title"]


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("console-act"))
    built.gateway, built.sender = await gateway(built, (scenario.BA_MMDD, FIRM_A, FIRM_B))
    yield built
    await built.gateway.stop()
    await built.accounts.close()
    await built.store.close()


def _client(world: World) -> httpx.AsyncClient:
    state = world.gateway
    app = world.app(submit=lambda org, person, event: submit(state, org, person, event))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="https://console.test")


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = await client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token[1], "next": "/inbox"})
    assert done.status_code == 303


def _form_values(page: str) -> dict[str, str]:
    """The hidden and prefilled values of the page's acting form, as a browser would send."""
    form = re.search(r'<form method="post" action="/act/.*?</form>', page, flags=re.DOTALL)
    assert form is not None
    values = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', form[0]))
    values.update(re.findall(r'<input id="f-[^"]+" name="([^"]+)" value="([^"]*)"', form[0]))
    values.update(re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', form[0]))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form[0],
                                 flags=re.DOTALL):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(
            r'<option value="([^"]+)"', body)
        values[name] = chosen[1] if chosen else ""
    return values


async def test_only_people_who_may_act_see_the_forms(world):
    async with _client(world) as officer, _client(world) as firm, _client(world) as auditor:
        await _sign_in(officer, "ba.officer")
        await _sign_in(firm, "firm.a.manager")
        await _sign_in(auditor, "eiti.auditor")
        page = await officer.get(f"/approvals/{PENDING}", params={"lang": "en"})
        assert '<a href="/act">Act</a>' in page.text
        for key in ("deficiency", "grant", "refusal"):
            assert f'href="/act/{key}?ref={PENDING}"' in page.text
        assert "/act/eia" not in page.text  # a title, not an environmental file
        decided = await officer.get(f"/approvals/{DECIDED}")
        assert "/act/grant" not in decided.text  # decided: no step left to offer
        eia = scenario.ids_of(8)["eia"]  # undecided, but another agency's (the EPA's) file
        assert "/act/eia" not in (await officer.get(f"/approvals/{eia}")).text
        index = await officer.get("/act")
        assert f'<tr data-ref="{PENDING}">' in index.text
        assert f'<tr data-ref="{DECIDED}">' not in index.text  # decided: nothing to answer
        assert "/act/production" not in index.text  # a firm's form
        own = await firm.get("/act", params={"lang": "en"})
        assert 'href="/act/production"' in own.text
        assert 'href="/act/declaration"' in own.text
        assert 'href="/act/application"' not in own.text  # no grant for it in this registry
        assert (await firm.get("/act/grant", params={"ref": PENDING})).status_code == 403
        refused = await auditor.get("/act")
        assert refused.status_code == 403
        assert "<h1>" in refused.text
        seen = await auditor.get(f"/approvals/{PENDING}")
        assert 'href="/act' not in seen.text


async def test_an_officer_grants_a_licence_and_gets_its_receipt(world):
    before = len(world.sender.sent)
    async with _client(world) as client:
        await _sign_in(client, "ba.officer")
        form = await client.get("/act/grant", params={"ref": PENDING, "lang": "en"})
        assert form.status_code == 200
        values = _form_values(form.text)
        assert values["granted_on"] == TODAY.isoformat()
        doc = await get_view(world.store, "approvals", PENDING)
        assert doc is not None
        assert values["minerals"] == ", ".join(doc["minerals"])
        values["conditions"] = "Commence work within six months"
        done = await client.post("/act/grant", data=values)
        assert done.status_code == 200, done.text
        assert len(world.sender.sent) == before + 1
        record = world.sender.sent[-1]
        env = from_record(record.key, record.value, tuple(record.headers))
        assert env.type.startswith("pk.emining.approval.licence.granted")
        assert env.source == f"{scenario.BA_MMDD}/custodial-gateway"
        assert env.id == values["event_id"]
        assert env.data.subject == PENDING
        assert str(env.data.expires_on) == (TODAY.replace(year=TODAY.year + 3)
                                            - timedelta(days=1)).isoformat()
        assert env.data.conditions[0].text == "Commence work within six months"
        # The receipt: who acted, where it landed.
        assert "Officer of Balochistan" in done.text
        assert "<code>ba.officer</code>" in done.text
        position = re.search(r'class="log-position"><code>([^<]+)</code>', done.text)
        assert position is not None
        ack = world.sender.acks[-1]
        assert position[1] == f"emining.approvals.v1 / {ack.partition} / {ack.offset}"
        assert f"<code>{env.id}</code>" in done.text
        # The same form sent again: its first receipt, nothing published twice.
        again = await client.post("/act/grant", data=values)
        assert again.status_code == 200
        assert "published before" in again.text
        assert len(world.sender.sent) == before + 1


async def test_a_post_without_the_sessions_csrf_token_publishes_nothing(world):
    before = len(world.sender.sent)
    async with _client(world) as client:
        await _sign_in(client, "ba.officer")
        values = _form_values((await client.get("/act/refusal",
                                                params={"ref": PENDING})).text)
        values["reasons"] = "Area overlaps a prior application"
        values["csrf_token"] = "forged"
        refused = await client.post("/act/refusal", data=values)
        assert refused.status_code == 403
        assert len(world.sender.sent) == before


async def test_refusals_are_explained_in_the_readers_language_and_publish_nothing(world):
    before = len(world.sender.sent)
    async with _client(world) as client:
        await _sign_in(client, "ba.officer")
        # A licence already decided cannot be granted again: the lifecycle refuses it (409).
        doc = await get_view(world.store, "approvals", DECIDED)
        assert doc is not None
        assert doc["status"] in ("granted", "refused")
        values = _form_values((await client.get("/act/grant", params={
            "ref": DECIDED, "lang": "ur"})).text)
        moved = await client.post("/act/grant", data=values)
        assert moved.status_code == 409
        assert 'data-reason="invalid_transition"' in moved.text
        assert "اس فائل کی موجودہ حالت میں یہ قدم ممکن نہیں" in moved.text
        # A value the schema refuses: the field is marked, with the gateway's reason (400).
        values = _form_values((await client.get("/act/grant", params={
            "ref": PENDING, "lang": "en"})).text)
        values["area_km2"] = "-5"
        wrong = await client.post("/act/grant", data=values)
        assert wrong.status_code == 400
        assert 'data-field="area_km2"' in wrong.text
        assert re.search(r'data-field="area_km2">.*?aria-invalid="true"', wrong.text,
                         flags=re.DOTALL)
        assert "The gateway refused the form's data" in wrong.text
        # A time ten days back, outside any backfill window: time_skew (400).
        values = _form_values((await client.get("/act/deficiency", params={
            "ref": PENDING, "lang": "zh"})).text)
        values.update(notice_ref="MMDD-DN-2026-001", items="Work programme missing",
                      event_time="2026-11-20T10:00")
        skewed = await client.post("/act/deficiency", data=values)
        assert skewed.status_code == 400
        assert 'data-reason="time_skew"' in skewed.text
        assert "所给时间与现在相差太远" in skewed.text
    assert len(world.sender.sent) == before


async def test_a_firm_reports_production_and_cannot_declare_a_shipment_already_arrived(world):
    async with _client(world) as client:
        await _sign_in(client, "firm.a.manager")
        form = await client.get("/act/production", params={"lang": "en"})
        values = _form_values(form.text)
        project = scenario.ids_of(0)["project"]  # firm A's
        assert f'<option value="{project}"' in form.text
        assert f'<option value="{scenario.ids_of(1)["project"]}"' not in form.text  # firm B's
        values.update(project_id=project, period="2026-10", ore_mined_t="1000",
                      ore_milled_t="900", head_grades="Cu 0.52 percent",
                      outputs="copper_concentrate 30.5")
        done = await client.post("/act/production", data=values)
        assert done.status_code == 200, done.text
        record = world.sender.sent[-1]
        env = from_record(record.key, record.value, tuple(record.headers))
        assert env.type.startswith("pk.emining.project.production.reported")
        assert env.source == f"{FIRM_A}/custodial-gateway"
        assert env.data.subject == project
        assert "Manager of firm A" in done.text
        before = len(world.sender.sent)
        form = await client.get("/act/declaration")
        arrived = None
        for i in range(0, 12, 4):  # firm A's stories
            shipment = scenario.ids_of(i)["shipment"]
            assert f'<option value="{shipment}"' in form.text
            doc = await get_view(world.store, "shipments", shipment)
            if doc is not None and doc["status"] == "arrived":
                arrived = shipment
        assert arrived is not None
        assert f'<option value="{scenario.ids_of(1)["shipment"]}"' not in form.text  # firm B's
        values = _form_values(form.text)
        values.update(shipment_id=arrived,
                      declaration_number="KPQE-SB-0099999-01122026", hs_code="26030000",
                      declared_value="1000000", wmt="100", moisture_pct="8", dmt="92",
                      customs_station="port_qasim")
        refused = await client.post("/act/declaration?lang=zh", data=values)
        assert refused.status_code == 409
        assert 'data-reason="invalid_transition"' in refused.text
        assert "该文件当前状态下不能进行这一步" in refused.text  # the firm's language
        assert "arrived → declared" in refused.text  # the gateway's own reason, beneath
        assert len(world.sender.sent) == before
