"""Who finds the rows of a parties-only view (valuations), and what a list, the read log and a
timeline tell the others (review 19): neither items nor ``next_cursor`` nor the presence of a next
page reveal hidden rows; every read of a row is in the read log; a correction's replacement is
withheld like the fields it corrects; commercial fields are classified alike in every view; view
names cannot take another route's segment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from consumers.access_http import access_dependency
from consumers.api import create_views_router
from consumers.freshness import Freshness
from consumers.policy import ROUTES, Row, entitled
from consumers.readlog import ReadLog
from consumers.store_read import list_views, timeline
from consumers.views.registry import RESERVED, VIEWS, check_names
from producers.authn import Authenticator
from producers.gateway_auth import ApiKeyStore
from schemas.access import restricted_fields
from schemas.common import Names, Role, Side
from schemas.participants import AuthorityGranted, OrganisationOnboarded
from schemas.registry import Registry
from tests.integration.views import scenario
from tests.unit.views import test_valuations as valuations
from tests.unit.views.test_valuations import (
    FAIR,
    OPEN,
    SHANGHAI,
    UNDER,
    USCC,
    XINJIANG,
    _folded,
    _shipment,
)

store, get = valuations.store, valuations.get
"""The valuations tests' fixtures: three shipments folded; a client as one organisation."""

UNDER2 = "SHP-2026-000126"


async def test_next_cursor_does_not_name_hidden_rows_matching_a_filter(tmp_path: Path):
    views = await _folded(tmp_path, _shipment(UNDER2, SHANGHAI, "9000000.00", "11843550.00"))
    keys = ApiKeyStore(tmp_path / "keys.json")
    token = keys.issue(XINJIANG)
    app = FastAPI()
    registry = scenario.registry()
    app.include_router(create_views_router(views, Freshness(None, ()), access_dependency(
        Authenticator(keys), lambda: registry, None)), prefix="/v1")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://v") as client:
            answer = (await client.get(
                "/v1/valuations", params={"status": "invoiced_above_declared", "limit": 1},
                headers={"Authorization": f"Bearer {token}"})).json()
    finally:
        await views.close()
    assert answer["items"] == []  # XINJIANG is party of neither SHANGHAI shipment
    assert answer["next_cursor"] is None, (
        f"next_cursor {answer['next_cursor']!r} names another exporter's shipment whose "
        "valuation is invoiced_above_declared")


async def test_next_cursor_does_not_enumerate_hidden_rows(get: Any):
    # SHANGHAI walks the list one row at a time: the cursors name XINJIANG's shipments.
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await get("/v1/valuations", SHANGHAI, **params)).json()
        cursor = page["next_cursor"]
        if cursor is None:
            break
        seen.append(cursor)
    assert FAIR not in seen, f"cursors named another exporter's valuation rows: {seen}"


async def test_reading_commercial_terms_through_valuations_is_in_the_read_log(
        store: Any, tmp_path: Path):
    """The shipments view records who read an exporter's commercial terms (declared value,
    invoiced amount, buyer, contract) in the read log auditors read; the valuations view
    answers the very same values and must record them too."""
    reads = ReadLog(store)
    await reads.create_table()
    keys = ApiKeyStore(tmp_path / "keys2.json")
    token = keys.issue(scenario.CUSTOMS)
    registry = scenario.registry()
    app = FastAPI()
    app.include_router(create_views_router(store, Freshness(None, ()), access_dependency(
        Authenticator(keys), lambda: registry, reads)), prefix="/v1")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://v") as client:
        shipment = await client.get(f"/v1/shipments/{UNDER}", headers=auth)
        assert shipment.status_code == 200
        logged = len(await reads.entries())
        assert logged == 1  # the shipment's commercial terms: recorded
        answered = await client.get(f"/v1/valuations/{UNDER}", headers=auth)
        assert answered.status_code == 200, answered.text
        valuation = answered.json()
        assert valuation["item"]["declared_value"]["amount"] == "9000000.00"
        assert valuation["item"]["buyer"] is not None
        listing = await client.get("/v1/valuations", headers=auth)
        assert listing.status_code == 200
    after = await reads.entries()
    assert len(after) > logged, (
        "customs read the declared values, invoices and buyers of every shipment through "
        "/v1/valuations and the read log recorded nothing")


async def test_a_corrected_declared_value_is_withheld_from_the_timeline_of_non_parties(
        tmp_path: Path):
    """A correction's replacement carries the restricted field it corrects (declared_value):
    the timeline shows it to every participant, while the original event's is withheld."""
    views = await _folded(tmp_path, [(SHANGHAI, scenario.event(
        "pk.emining.shipment.corrected", shipment_id=UNDER, exporter_uscc=scenario.FIRMS[SHANGHAI],
        corrects_event_id="evt-11",
        corrected_type="pk.emining.shipment.customs.declaration.filed.v1",
        reason="incorrect_data", explanation="declared value keyed without the final price",
        replacement={"declared_value": {"amount": "11900000.00", "currency": "USD"}}))])
    keys = ApiKeyStore(tmp_path / "keys.json")
    token = keys.issue(XINJIANG)
    registry = scenario.registry()
    app = FastAPI()
    app.include_router(create_views_router(views, Freshness(None, ()), access_dependency(
        Authenticator(keys), lambda: registry, None)), prefix="/v1")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://v") as client:
            answer = await client.get(f"/v1/timeline/{UNDER}",
                                      headers={"Authorization": f"Bearer {token}"})
    finally:
        await views.close()
    assert answer.status_code == 200, answer.text
    leaks = [(i["type"], k) for i in answer.json()["items"] for k in ("data", "effective")
             if "11900000" in str(i.get(k))]
    assert not leaks, (leaks,
        "another exporter reads the corrected declared value in the correction's replacement")


async def test_a_firm_pages_through_its_own_rows_only(get: Any):
    first = (await get("/v1/valuations", XINJIANG, limit=1)).json()
    assert [i["shipment_id"] for i in first["items"]] == [FAIR]
    assert first["next_cursor"] == FAIR
    rest = (await get("/v1/valuations", XINJIANG, limit=1, cursor=FAIR)).json()
    assert [i["shipment_id"] for i in rest["items"]] == [OPEN]  # UNDER skipped, page full
    assert rest["next_cursor"] is None
    last = (await get("/v1/valuations", SHANGHAI, limit=1)).json()
    assert ([i["shipment_id"] for i in last["items"]], last["next_cursor"]) == ([UNDER], None)
    # customs (an agency: judged per row) pages through every row
    first = (await get("/v1/valuations", scenario.CUSTOMS, limit=2)).json()
    assert ([i["shipment_id"] for i in first["items"]], first["next_cursor"]) == (
        [FAIR, UNDER], UNDER)


async def test_reading_on_skips_many_hidden_rows(store: Any):
    page = await list_views(store, "valuations", {}, limit=1,
                            keep=lambda d: d["shipment_id"] == OPEN)
    assert ([d["shipment_id"] for d in page.items], page.next_cursor) == ([OPEN], None)
    page = await list_views(store, "valuations", {}, limit=1, parties=[USCC[SHANGHAI]])
    assert ([d["shipment_id"] for d in page.items], page.next_cursor) == ([UNDER], None)
    page = await list_views(store, "valuations", {}, limit=5, parties=[])
    assert (page.items, page.next_cursor) == ([], None)


def _agency(*patterns: str) -> Any:
    registry = Registry()
    org = "urn:emining:pk:gov:test-customs"
    registry.apply(OrganisationOnboarded(org_id=org, names=Names(en="customs"), side=Side.PK,
                                         role=Role.AGENCY), scenario.REGISTRY_FROM)
    registry.apply(AuthorityGranted(org_id=org, grant_id="g", event_types=patterns,
                                    provinces=("PK-BA",), valid_from=scenario.REGISTRY_FROM),
                   scenario.REGISTRY_FROM)
    return registry.orgs[org]


@pytest.mark.parametrize(("patterns", "competent"), [
    (("pk.emining.shipment.customs.cleared", "pk.emining.shipment.customs.held"), True),
    (("pk.emining.shipment.*",), True),
    (("pk.emining.approval.licence.*",), False),  # the licensing authority: not for shipments
    (("pk.emining.project.*",), False),
])
def test_an_agency_is_competent_for_valuations_by_a_grant_over_the_shipments_topic(
        patterns, competent):
    """Customs' grant names what it issues (clearances, holds), not the firms' events the
    valuations view folds: the grant over the topic makes it competent, in its provinces."""
    row = Row("valuations", "91110000100000000X", "PK-BA")
    assert entitled(_agency(*patterns), row) is competent
    assert entitled(_agency(*patterns), Row("valuations", "91110000100000000X", "PK-SD")) is False


def _paths(doc: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = [(prefix, doc)] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, f"{prefix}.{key}" if prefix else key)
    return out


async def test_commercial_fields_are_classified_alike_in_every_view_that_shows_them(store: Any):
    """Every value of a restricted event field (a declared value, an invoice, a buyer, a
    contract) that a view document holds is at a path the view restricts, with that class."""
    secrets: dict[str, Any] = {}  # JSON of the value → its class
    for subject in (FAIR, UNDER, OPEN):
        for item in (await timeline(store, subject, limit=500)).items:
            for path, cls in restricted_fields(item["type"]).items():
                found = dict(_paths(item["data"])).get(path)
                if found is not None:
                    secrets[json.dumps(found, sort_keys=True)] = cls
    assert len(secrets) >= 6  # buyer, contract, declared values, invoices: the test bites
    checked = 0
    for view in VIEWS:
        for doc in (await list_views(store, view.name, {}, limit=500)).items:
            for path, value in _paths(doc):
                cls = secrets.get(json.dumps(value, sort_keys=True))
                if cls is None:
                    continue
                checked += 1
                assert view.restricted.get(path) == cls, (
                    f"{view.name}.{path} holds a {cls} field, classified "
                    f"{view.restricted.get(path)}")
    assert checked >= 10


def test_view_names_are_unique_and_take_no_other_route():
    check_names(VIEWS)
    with pytest.raises(ValueError, match="two views of one name: shipments"):
        check_names((*VIEWS, VIEWS[2]))
    for name in ("timeline", "audit", "public", "events", "webhooks", "subscriptions",
                 "alerts"):
        clash = VIEWS[3].__class__(**{**{f: getattr(VIEWS[3], f)
                                         for f in VIEWS[3].__slots__}, "name": name})
        with pytest.raises(ValueError, match="collide"):
            check_names((*VIEWS, clash))


def test_the_reserved_segments_cover_every_other_route_of_the_app():
    names = {v.name for v in VIEWS}
    segments = {path.removeprefix("/v1").strip("/").split("/")[0] for _, path in ROUTES}
    others = {s for s in segments if s and s not in names}
    assert others <= RESERVED, f"route segments a view could take: {sorted(others - RESERVED)}"
