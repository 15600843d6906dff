"""Subscriptions and webhooks over HTTP: per organisation, and matching existing projects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from consumers.alerts.clock import ManualClock
from consumers.alerts.directory import Directory
from consumers.alerts.http import create_alerts_router
from consumers.alerts.service import AlertsService
from consumers.alerts.store import AlertStore, alert_docs
from consumers.alerts.webhook_targets import TargetPolicy
from consumers.store import ViewStore
from consumers.store_batch import view_row
from consumers.views.families import FAMILIES
from consumers.views.models import ProjectView
from producers.gateway_auth import ApiKeyStore
from schemas.alerts import AlertRule, CauseKind
from schemas.events import ProjectRegistered
from schemas.topics import PROJECTS
from tests.unit.alerts.world import HUAYE, MCC, NOW, REGISTRY, context
from tests.unit.helpers import example


def project_view() -> ProjectView:
    data = example(ProjectRegistered)
    assert isinstance(data, ProjectRegistered)
    return ProjectView(project_id=data.project_id, operator_uscc=data.operator_uscc,
                       province=data.province, names=data.names, minerals=data.minerals,
                       stage=data.stage, operator_name=data.operator_name, updated_at=NOW)


INSIDE = "10.20.30.40"
"""What ``inside.example`` resolves to: an address of the platform's own network."""


async def _public(host: str, port: int) -> list[str]:
    return [INSIDE] if host == "inside.example" else ["93.184.216.34"]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ApiKeyStore, AlertStore]]:
    store = AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    await store.open()
    async with store.views.writing() as (conn, tables):
        await conn.execute(tables.projects.insert(),
                           [view_row(FAMILIES[PROJECTS], "PRJ-BA-CHG-0007", project_view())])
    keys = ApiKeyStore(tmp_path / "api_keys.json")
    config = context().config
    service = AlertsService(store, lambda: Directory(REGISTRY, config), ManualClock(NOW),
                            targets=TargetPolicy(resolver=_public))
    app = FastAPI()
    app.include_router(create_alerts_router(service, keys), prefix="/v1")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        yield client, keys, store
    await store.views.close()


async def test_subscription_with_existing_projects_alerts_the_subscriber_once(api: tuple) -> None:
    client, keys, store = api
    huaye = {"Authorization": f"Bearer {keys.issue(HUAYE)}"}
    body = {"minerals": ["gold"], "provinces": ["PK-BA"], "include_existing": True}
    created = await client.post("/v1/subscriptions", json=body, headers=huaye)
    assert created.status_code == 201
    doc = created.json()
    assert (doc["org"], doc["minerals"], doc["provinces"], doc["stages"], doc["alerts_raised"]) == (
        HUAYE, ["gold"], ["PK-BA"], [], 1)
    async with store.reading() as conn:
        [alert] = await alert_docs(conn, HUAYE)
    assert (alert.rule, alert.about, alert.cause.kind) == (
        AlertRule.PROJECT_MATCHED, "PRJ-BA-CHG-0007", CauseKind.SUBSCRIPTION)
    assert alert.texts.en == ("Project Chagai North Copper-Gold Project (PRJ-BA-CHG-0007) in "
                              "Balochistan matches your subscription: copper and gold, "
                              "feasibility stage, operated by Xinjiang Example Mining Co., Ltd.")
    listed = await client.get("/v1/subscriptions", headers=huaye)
    assert [s["id"] for s in listed.json()] == [doc["id"]]


async def test_the_operator_is_not_told_of_its_own_project_and_cannot_delete_others(
    api: tuple,
) -> None:
    client, keys, _ = api
    huaye = {"X-API-Key": keys.issue(HUAYE)}
    mcc = {"X-API-Key": keys.issue(MCC)}
    own = await client.post("/v1/subscriptions", json={"include_existing": True}, headers=mcc)
    assert own.json()["alerts_raised"] == 0
    theirs = (await client.post("/v1/subscriptions", json={}, headers=huaye)).json()
    assert theirs["alerts_raised"] is None
    assert (await client.get("/v1/subscriptions", headers=mcc)).json()[0]["id"] == own.json()["id"]
    assert (await client.delete(f"/v1/subscriptions/{theirs['id']}", headers=mcc)).status_code \
        == 404
    assert (await client.delete(f"/v1/subscriptions/{theirs['id']}", headers=huaye)).status_code \
        == 204
    assert (await client.get("/v1/subscriptions", headers=huaye)).json() == []


async def test_bad_filters_and_missing_keys_are_refused(api: tuple) -> None:
    client, keys, _ = api
    assert (await client.post("/v1/subscriptions", json={})).status_code == 401
    bad = await client.post("/v1/subscriptions", json={"minerals": ["unobtainium"]},
                            headers={"X-API-Key": keys.issue(HUAYE)})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "minerals", 0]


async def test_webhooks_are_registered_listed_and_removed_per_organisation(api: tuple) -> None:
    client, keys, _ = api
    huaye = {"X-API-Key": keys.issue(HUAYE)}
    created = await client.post("/v1/webhooks", json={"url": "https://huaye.example/alerts"},
                                headers=huaye)
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_")
    listed = (await client.get("/v1/webhooks", headers=huaye)).json()
    assert listed == [{"id": hook["id"], "url": "https://huaye.example/alerts", "secret": None,
                       "delivered": 0, "dead_lettered": 0, "pending": 0, "last_error": None}]
    other = {"X-API-Key": keys.issue(MCC)}
    assert (await client.delete(f"/v1/webhooks/{hook['id']}", headers=other)).status_code == 404
    assert (await client.delete(f"/v1/webhooks/{hook['id']}", headers=huaye)).status_code == 204
    assert (await client.post("/v1/webhooks", json={"url": "ftp://x"},
                              headers=huaye)).status_code == 422
    for internal in ("https://\u000bx", "http://127.0.0.1:9/", "http://169.254.169.254/"):
        refused = await client.post("/v1/webhooks", json={"url": internal}, headers=huaye)
        assert refused.status_code == 422, internal
        [problem] = refused.json()["detail"]
        assert problem["loc"] == ["body", "url"]
        assert any(word in problem["msg"] for word in ("U+000B", "loopback", "link-local"))
    assert (await client.get("/v1/webhooks", headers=huaye)).json() == []  # none was kept


async def test_a_channel_s_targets_are_managed_by_name_per_organisation(api: tuple) -> None:
    """``/v1/alerts/channels/<name>`` serves every registered channel; ``webhook`` is one, and
    what it registers there is the same webhook ``/v1/webhooks`` lists."""
    client, keys, _ = api
    huaye, mcc = {"X-API-Key": keys.issue(HUAYE)}, {"X-API-Key": keys.issue(MCC)}
    created = await client.post("/v1/alerts/channels/webhook",
                                json={"url": "https://huaye.example/alerts"}, headers=huaye)
    assert created.status_code == 201
    target = created.json()
    assert (target["channel"], target["url"], target["options"]) == (
        "webhook", "https://huaye.example/alerts", {})
    assert target["secret"].startswith("whsec_")  # made by the platform: shown once
    assert [h["id"] for h in (await client.get("/v1/webhooks", headers=huaye)).json()] == [
        target["id"]]
    listed = (await client.get("/v1/alerts/channels/webhook", headers=huaye)).json()
    assert [(t["id"], t["secret"]) for t in listed] == [(target["id"], None)]
    assert (await client.get("/v1/alerts/channels/webhook", headers=mcc)).json() == []
    assert (await client.delete(f"/v1/alerts/channels/webhook/{target['id']}",
                                headers=mcc)).status_code == 404  # not MCC's to remove
    unknown = await client.get("/v1/alerts/channels/carrier-pigeon", headers=huaye)
    assert unknown.status_code == 404
    assert "carrier-pigeon" in unknown.json()["detail"]
    given = await client.post("/v1/alerts/channels/webhook", headers=huaye, json={
        "url": "https://huaye.example/b", "secret": "mine"})
    assert given.status_code == 422  # a webhook's secret is the platform's to make
    internal = await client.post("/v1/alerts/channels/webhook", headers=huaye,
                                 json={"url": "http://169.254.169.254/"})
    assert internal.status_code == 422
    assert "link-local" in internal.json()["detail"][0]["msg"]
    assert (await client.delete(f"/v1/alerts/channels/webhook/{target['id']}",
                                headers=huaye)).status_code == 204
    assert (await client.get("/v1/alerts/channels/webhook", headers=huaye)).json() == []


async def test_a_refused_name_does_not_tell_the_caller_its_internal_address(api: tuple) -> None:
    client, keys, _ = api
    huaye = {"X-API-Key": keys.issue(HUAYE)}
    for path, body in (("/v1/webhooks", {"url": "https://inside.example/hook"}),
                       ("/v1/alerts/channels/robot",
                        {"url": "https://inside.example/robot/send?access_token=t",
                         "options": {"flavour": "dingtalk"}})):
        refused = await client.post(path, json=body, headers=huaye)
        assert refused.status_code == 422, path
        assert INSIDE not in refused.text
        [problem] = refused.json()["detail"]
        assert problem["msg"].startswith("inside.example resolves to a non-public address"), path
