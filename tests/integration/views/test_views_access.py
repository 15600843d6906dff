"""Who sees what in the read API, over views the real consumer built from a real broker's log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from consumers.access_http import access_dependency
from consumers.api import create_views_router
from consumers.api_audit import create_audit_router
from consumers.api_public import create_public_router
from consumers.freshness import Freshness
from consumers.readlog import ReadLog
from consumers.store_batch import view_row
from consumers.views.families import FAMILIES
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from producers.authn import Authenticator
from producers.gateway_auth import ApiKeyStore
from schemas.common import Names, Role, Side
from schemas.participants import OrganisationOnboarded
from schemas.topics import APPROVALS
from tests.integration.views import scenario
from tests.integration.views.test_views_contract import synced  # noqa: F401 - the fixture

AUDITOR = "urn:emining:xx:aud:eiti-test"
PUBLIC = ("/v1/public/licences", "/v1/public/lead-times")


def _with_auditor() -> Any:
    registry = scenario.registry()
    registry.apply(OrganisationOnboarded(org_id=AUDITOR, names=Names(en="EITI test auditor"),
                                         side=Side.PK, role=Role.AUDITOR), scenario.REGISTRY_FROM)
    return registry


@pytest.fixture
async def api(synced, tmp_path):  # noqa: F811 - the fixture imported above
    store, config, _, _ = synced
    keys = ApiKeyStore(tmp_path / "keys.json")
    tokens = {org: keys.issue(org) for org in
              [*scenario.FIRMS, scenario.BA_MMDD, scenario.BA_EPA, scenario.CUSTOMS, AUDITOR]}
    reads = ReadLog(store)
    await reads.create_table()
    registry = _with_auditor()
    access = access_dependency(Authenticator(keys), lambda: registry, reads)
    freshness = Freshness(config.kafka, config.topics.consumed())
    app = FastAPI()
    app.include_router(create_views_router(store, freshness, access), prefix="/v1")
    app.include_router(create_public_router(store, lambda: registry, access), prefix="/v1")
    app.include_router(create_audit_router(reads, access), prefix="/v1")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://views") as client:

        async def get(path: str, who: str | None = None, *, token: str | None = None,
                      **params: Any) -> httpx.Response:
            token = token or (tokens[who] if who else None)
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await client.get(path, params=params, headers=headers)

        yield get, reads
    await freshness.close()


async def test_restricted_fields_reach_only_the_parties_and_each_read_is_logged(api):
    get, reads = api
    shipment_id, title = scenario.ids_of(0)["shipment"], scenario.ids_of(0)["title"]
    seen = (await get(f"/v1/shipments/{shipment_id}", scenario.CUSTOMS)).json()
    exporter_uscc = seen["item"]["exporter_uscc"]
    exporter = next(org for org, uscc in scenario.FIRMS.items() if uscc == exporter_uscc)
    stranger = next(org for org, uscc in scenario.FIRMS.items() if uscc != exporter_uscc)

    # The exporter, customs (competent for shipments) and an auditor see the buyer and contract.
    for org in (exporter, scenario.CUSTOMS, AUDITOR):
        answer = (await get(f"/v1/shipments/{shipment_id}", org)).json()
        assert answer["item"]["buyer"]["name"]["en"], org
        assert answer["item"]["contract_ref"] == "CC-2026-CU-017", org
        assert answer["withheld"] == [], org
    # Another firm, and an agency competent for licences only, see the shipment without them.
    for org in (stranger, scenario.BA_EPA):
        answer = (await get(f"/v1/shipments/{shipment_id}", org)).json()
        assert answer["item"]["status"] == seen["item"]["status"]
        assert answer["item"]["buyer"] is None, org
        assert answer["item"]["contract_ref"] is None, org
        assert answer["item"]["declaration"]["declared_value"] is None, org
        assert "buyer" in answer["withheld"], org
        listed = (await get("/v1/shipments", org, limit=500)).json()
        own = scenario.FIRMS.get(org)
        assert {s["shipment_id"] for s in listed["items"] if s["buyer"] is not None} == {
            s["shipment_id"] for s in listed["items"] if s["exporter_uscc"] == own}, org
        assert shipment_id in listed["withheld"]

    # The representative's CNIC in the licence application: the licensing authority sees it.
    def application(answer: dict[str, Any]) -> dict[str, Any]:
        return next(i for i in answer["items"]
                    if i["type"].startswith("pk.emining.approval.licence.application.received"))

    ba = application((await get(f"/v1/timeline/{title}", scenario.BA_MMDD)).json())
    assert ba["data"]["applicant"]["representative_cnic"]
    other = (await get(f"/v1/timeline/{title}", stranger)).json()
    assert "representative_cnic" not in application(other)["data"]["applicant"]
    assert "representative_cnic" not in application(other)["effective"]["applicant"]
    assert "applicant.representative_cnic" in other["withheld"]

    logged = await reads.entries()
    readers = {(r.org, r.route) for r in logged}
    assert (exporter, "/v1/shipments/{shipment_id}") in readers
    assert (scenario.BA_MMDD, "/v1/timeline/{subject}") in readers
    # What the other firm was shown of restricted data is its own shipments', nothing else.
    assert shipment_id not in {s for r in logged if r.org == stranger for s in r.subjects}
    assert title not in {s for r in logged if r.org == stranger for s in r.subjects}
    assert not any(r.org == scenario.BA_EPA for r in logged)
    assert all(r.principal.startswith("api-key:") and r.via == "api_key" for r in logged)
    cnic_read = next(r for r in logged if r.org == scenario.BA_MMDD)
    assert cnic_read.subjects == [title]
    assert "applicant.representative_cnic" in cnic_read.fields

    # Auditors read the read log; a firm may not.
    audit = await get("/v1/audit/reads", AUDITOR, org=exporter)
    assert audit.status_code == 200
    assert {i["org"] for i in audit.json()["items"]} == {exporter}
    assert (await get("/v1/audit/reads", exporter)).status_code == 403


async def test_an_anonymous_caller_gets_the_public_register_and_nothing_else(api):
    get, _ = api
    for path in ("/v1/projects", "/v1/approvals", "/v1/shipments",
                 f"/v1/timeline/{scenario.ids_of(0)['title']}",
                 f"/v1/shipments/{scenario.ids_of(0)['shipment']}", "/v1/audit/reads"):
        answer = await get(path)
        assert answer.status_code == 401, path
        assert "sign in" in answer.json()["detail"]
    register = (await get("/v1/public/licences")).json()["licences"]
    titles = {r["licence"]["title_number"] for r in register}
    assert scenario.ids_of(0)["title"] in titles
    entry = next(r for r in register if r["licence"]["title_number"] == scenario.ids_of(0)["title"])
    row = entry["licence"]
    assert row["authority_name"] == "Mines & Minerals Development Dept, Balochistan"
    assert row["coordinates_wkt"].startswith("POLYGON((")
    events = (await get(entry["events"])).json()
    application = next(i for i in events["items"] if ".application.received." in i["type"])
    assert "representative_cnic" not in application["data"]["applicant"]
    assert "ntn" not in application["data"]["applicant"]
    lead = (await get("/v1/public/lead-times")).json()["rows"]
    ba = next(r for r in lead if r["lead_time"]["authority"] == scenario.BA_MMDD)
    assert ba["lead_time"]["decided"] + ba["lead_time"]["pending"] == len(ba["files"])
    assert ba["lead_time"]["decided"] > 0
    assert ba["authority_name"] == "Mines & Minerals Development Dept, Balochistan"
    assert (await get("/v1/public/timeline/SHP-2026-000001")).status_code == 404
    wrong = await get("/v1/projects", token="emk_not-a-key")
    assert wrong.status_code == 401
    assert "not valid" in wrong.json()["detail"]


async def test_odd_cursors_and_limits_are_a_clear_4xx_never_a_server_error(api):
    get, _ = api
    title = scenario.ids_of(0)["title"]
    for path, params in ((f"/v1/timeline/{title}", {"cursor": "9223372036854775808"}),
                         (f"/v1/timeline/{title}", {"cursor": "-1"}),
                         ("/v1/projects", {"cursor": "x" * 500}),
                         ("/v1/projects", {"cursor": "a\u0000b"}),
                         ("/v1/shipments", {"limit": "100000"}),
                         ("/v1/approvals", {"status": "pendng"}),
                         ("/v1/projects", {"province": "Balochistan"}),
                         (f"/v1/public/timeline/{title}", {"cursor": "1e9"})):
        answer = await get(path, AUDITOR, **params)
        assert answer.status_code == 422, (path, params, answer.text)
        [problem] = answer.json()["detail"]
        assert problem["loc"][0] == "query"
    page = (await get(f"/v1/timeline/{title}", AUDITOR, limit=2)).json()
    rest = (await get(f"/v1/timeline/{title}", AUDITOR, cursor=page["next_cursor"])).json()
    assert rest["items"][0]["position"] == 3


async def test_the_public_register_is_read_again_when_the_views_move(api, synced):  # noqa: F811
    get, _ = api
    store = synced[0]
    first = {r["licence"]["title_number"] for r in
             (await get("/v1/public/licences")).json()["licences"]}
    title = "BA-EL-2026-0999"
    assert title not in first
    async with store.writing() as (conn, tables):
        await conn.execute(tables.view("approvals").insert().values(**view_row(
            FAMILIES[APPROVALS], title, ApprovalView(
                ref=title, kind=ApprovalKind.TITLE, holder_uscc=scenario.FIRMS[
                    "urn:emining:cn:ent:xinjiang-example"], status=ApprovalStatus.GRANTED,
                updated_at=datetime.now(UTC)))))
    assert title not in {r["licence"]["title_number"] for r in  # the views did not move yet
                         (await get("/v1/public/licences")).json()["licences"]}
    async with store.writing() as (conn, tables):
        await conn.execute(tables.offsets.insert().values(topic="moved", log_partition=0,
                                                          next_offset=1))
    again = {r["licence"]["title_number"] for r in
             (await get("/v1/public/licences")).json()["licences"]}
    assert again == first | {title}
