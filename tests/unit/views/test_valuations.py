"""The export valuations view, added as one module and its registration: real signed events folded
by the real consumer path into SQLite, answered by the routes generated from its declaration,
and shown only to each shipment's parties (the exporter, customs, auditors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from fastapi import FastAPI
from sqlalchemy import update

from consumers.access_http import access_dependency
from consumers.api import create_views_router
from consumers.dlq import DeadLetterQueue
from consumers.freshness import Freshness
from consumers.store import SchemaMismatchError, ViewStore
from consumers.store_read import get_view
from consumers.store_schema import views_meta
from consumers.sync import ViewSync
from producers.authn import Authenticator
from producers.gateway_auth import ApiKeyStore
from producers.publisher import Draft
from schemas.common import Names, Role, Side
from schemas.participants import OrganisationOnboarded
from tests.integration.views import scenario
from tests.unit.views.harness import Log, Record, stage_for

T = datetime(2026, 4, 1, 5, tzinfo=UTC)
XINJIANG, SHANGHAI = "urn:emining:cn:ent:xinjiang-example", "urn:emining:cn:ent:shanghai-example"
AUDITOR = "urn:emining:xx:aud:eiti-test"
USCC = scenario.FIRMS
FAIR, UNDER, OPEN = "SHP-2026-000123", "SHP-2026-000124", "SHP-2026-000125"


def _shipment(shipment: str, org: str, declared: str,
              invoiced: str | None) -> list[tuple[str, Any]]:
    """A shipment from plan to final invoice (``invoiced`` None: declared, not yet shipped)."""
    ids = {"shipment_id": shipment, "exporter_uscc": USCC[org]}

    def step(who: str, type_name: str, **fields: Any) -> tuple[str, Any]:
        return who, scenario.event(f"pk.emining.shipment.{type_name}", **ids, **fields)

    steps = [step(org, "planned"), step(org, "lot.loaded"), step(org, "departed"),
             step(org, "customs.declaration.filed",
                  declared_value={"amount": declared, "currency": "USD"})]
    if invoiced is not None:
        steps += [step(scenario.CUSTOMS, "customs.cleared"), step(org, "vessel.loaded"),
                  step(org, "arrived"),
                  step(org, "final.invoiced", amount={"amount": invoiced, "currency": "USD"})]
    return steps


class _Control:
    def __init__(self, records: list[Record]) -> None:
        self._ends = {TopicPartition(r.topic, r.partition): 0 for r in records}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self._ends[tp] = max(self._ends[tp], r.offset + 1)

    def assignment(self) -> set[TopicPartition]:
        return set(self._ends)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError(f"no re-seek expected ({partition} to {offset})")

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._ends[partition]


async def _folded(tmp_path: Path, extra: list[tuple[str, Any]] | None = None) -> ViewStore:
    """The three shipments (and ``extra`` steps) signed, verified and folded by ``ViewSync``."""
    steps = (_shipment(FAIR, XINJIANG, "11990000.00", "11843550.00")
             + _shipment(UNDER, SHANGHAI, "9000000.00", "11843550.00")
             + _shipment(OPEN, XINJIANG, "5000000.00", None) + (extra or []))
    log = Log()
    records = [log.record(log.seal(org, Draft(data, event_id=f"evt-{i}",
                                              time=T + timedelta(hours=i))))
               for i, (org, data) in enumerate(steps)]
    views = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/views.db")
    await views.open()
    dlq = DeadLetterQueue(None, "dlq", "t")
    sync = ViewSync(views, stage_for(scenario.registry()), dlq)
    for start in range(0, len(records), 5):  # batches mixing the shipments' events
        outcome = await sync.apply(records[start:start + 5], _Control(records))
        assert outcome.rejected == 0
    return views


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    views = await _folded(tmp_path)
    yield views
    await views.close()


@pytest.fixture
async def get(store: ViewStore, tmp_path: Path) -> Any:
    registry = scenario.registry()
    registry.apply(OrganisationOnboarded(org_id=AUDITOR, names=Names(en="EITI test auditor"),
                                         side=Side.PK, role=Role.AUDITOR), scenario.REGISTRY_FROM)
    keys = ApiKeyStore(tmp_path / "keys.json")
    tokens = {org: keys.issue(org) for org in
              (XINJIANG, SHANGHAI, scenario.CUSTOMS, scenario.BA_MMDD, AUDITOR)}
    app = FastAPI()
    access = access_dependency(Authenticator(keys), lambda: registry, None)
    app.include_router(create_views_router(store, Freshness(None, ()), access), prefix="/v1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://views") as client:

        async def call(path: str, who: str | None = None, **params: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
            return await client.get(path, params=params, headers=headers)

        yield call


def _ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["shipment_id"] for item in answer.json()["items"]]


async def test_the_generated_routes_answer_each_shipments_valuation(get):
    fair = await get(f"/v1/valuations/{FAIR}", XINJIANG)
    assert fair.status_code == 200, fair.text
    item = fair.json()["item"]
    assert (item["declared_per_dmt"], item["invoiced_per_dmt"], item["gap_pct"],
            item["status"]) == ("2426.63", "2406.17", "-0.84", "consistent")
    assert (item["declaration_number"], item["invoice_number"], item["final_dmt"],
            item["events"]) == ("KPQE-SB-0012345-14042026", "INV-CU-2026-0412", "4922.166", 3)
    assert item["buyer"]["uscc"] == scenario.event("pk.emining.shipment.planned").buyer.uscc
    under = (await get(f"/v1/valuations/{UNDER}", scenario.CUSTOMS)).json()["item"]
    assert (under["declared_per_dmt"], under["gap_pct"], under["status"]) == (
        "1821.49", "32.10", "invoiced_above_declared")
    still_open = (await get(f"/v1/valuations/{OPEN}", XINJIANG)).json()["item"]
    assert (still_open["status"], still_open["invoiced_amount"], still_open["gap_pct"]) == (
        "open", None, None)
    assert (await get("/v1/valuations/SHP-2026-000999", AUDITOR)).status_code == 404


async def test_lists_filter_and_page_as_declared(get):
    assert _ids(await get("/v1/valuations", scenario.CUSTOMS)) == [FAIR, UNDER, OPEN]
    assert _ids(await get("/v1/valuations", scenario.CUSTOMS,
                          status="invoiced_above_declared")) == [UNDER]
    assert _ids(await get("/v1/valuations", AUDITOR, exporter=USCC[XINJIANG])) == [FAIR, OPEN]
    first = (await get("/v1/valuations", AUDITOR, limit=2)).json()
    assert [i["shipment_id"] for i in first["items"]] == [FAIR, UNDER]
    rest = await get("/v1/valuations", AUDITOR, limit=2, cursor=first["next_cursor"])
    assert _ids(rest) == [OPEN]
    assert rest.json()["next_cursor"] is None
    assert (await get("/v1/valuations", AUDITOR, status="cheap")).status_code == 422


async def test_a_row_is_shown_only_to_its_parties(get):
    # each exporter finds its own shipments only, and is refused another's
    assert _ids(await get("/v1/valuations", XINJIANG)) == [FAIR, OPEN]
    assert _ids(await get("/v1/valuations", SHANGHAI)) == [UNDER]
    refused = await get(f"/v1/valuations/{FAIR}", SHANGHAI)
    assert refused.status_code == 403
    assert "11990000" not in refused.text
    assert "only to its parties" in refused.json()["detail"]
    assert (await get(f"/v1/valuations/{UNDER}", XINJIANG)).status_code == 403
    # an agency without a grant over shipments (the licensing authority) sees none of them
    assert _ids(await get("/v1/valuations", scenario.BA_MMDD)) == []
    assert (await get(f"/v1/valuations/{UNDER}", scenario.BA_MMDD)).status_code == 403
    # customs (competent for shipments) and auditors see every row
    assert (await get(f"/v1/valuations/{FAIR}", scenario.CUSTOMS)).status_code == 200
    assert _ids(await get("/v1/valuations", AUDITOR)) == [FAIR, UNDER, OPEN]
    assert (await get("/v1/valuations")).status_code == 401
    # the shared shipments view still shows the row itself to everyone, its commercial terms
    # withheld from those who are not its parties
    shared = (await get(f"/v1/shipments/{FAIR}", SHANGHAI)).json()
    assert shared["item"]["shipment_id"] == FAIR
    assert shared["item"]["buyer"] is None
    assert "buyer" in shared["withheld"]


async def test_a_store_built_without_the_view_asks_for_a_rebuild(store):
    async with store.writing() as (conn, _):
        await conn.execute(update(views_meta).where(views_meta.c.key == "views").values(value=""))
    with pytest.raises(SchemaMismatchError, match="emining views rebuild"):
        await store.open(check_views=True)  # the view consumer's open
    assert await store.open() == "a"  # the other readers' (alerts, serve) is not held up


async def test_a_correction_refolds_the_valuation_with_the_shipment(tmp_path):
    """The exporter corrects its declared value: the valuation is folded again from the
    shipment's history as it now counts, in the batch that applies the correction."""
    declared = "evt-11"  # the UNDER shipment's customs.declaration.filed (its fourth step)
    views = await _folded(tmp_path, [(SHANGHAI, scenario.event(
        "pk.emining.shipment.corrected", shipment_id=UNDER, exporter_uscc=USCC[SHANGHAI],
        corrects_event_id=declared,
        corrected_type="pk.emining.shipment.customs.declaration.filed.v1",
        reason="incorrect_data", explanation="declared value keyed without the final price",
        replacement={"declared_value": {"amount": "11900000.00", "currency": "USD"}}))])
    try:
        doc = await get_view(views, "valuations", UNDER)
        assert doc is not None
        assert (doc["declared_value"]["amount"], doc["declared_per_dmt"], doc["gap_pct"],
                doc["status"], doc["events"]) == (
            "11900000.00", "2408.42", "-0.09", "consistent", 3)
        shipment = await get_view(views, "shipments", UNDER)
        assert shipment is not None
        assert shipment["declaration"]["declared_value"]["amount"] == "11900000.00"
    finally:
        await views.close()
