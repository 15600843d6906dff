"""What the HTTP service measures and logs of each request: metrics by method, route template and
status in the process's one registry (none of the view consumer's), and one line per API read."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from consumers.access_http import access_dependency
from consumers.api import create_views_router
from consumers.freshness import Freshness
from consumers.metrics import VIEW_LAG
from consumers.readlog import ReadLog
from infra.compose.app import build_app
from infra.metrics import UNMATCHED, instrument
from infra.settings import Settings
from producers.authn import Authenticator
from schemas.alerts import PLATFORM_ORG
from schemas.signing import PrivateKey, b64
from tests.console_world import FIRM_A, World, build
from tests.integration.views import scenario

TEMPLATE = "/v1/things/{thing_id}"


def _things_app() -> FastAPI:
    app = FastAPI()
    instrument(app)
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        if thing_id != "known":
            raise HTTPException(404, f"no thing {thing_id}")
        return {"id": thing_id}

    @router.post("/things")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.include_router(router, prefix="/v1")  # the template must carry the prefix
    return app


def _count(app: FastAPI, method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    registry = app.state.metrics
    return registry.get_sample_value("emining_http_requests_total", labels) or 0.0


def _timed(app: FastAPI, method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    registry = app.state.metrics
    return registry.get_sample_value("emining_http_request_duration_seconds_count", labels) or 0.0


async def test_requests_are_counted_and_timed_by_route_template_never_by_raw_path():
    app = _things_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/things/known")).status_code == 200
        assert (await client.get("/v1/things/known")).status_code == 200
        assert (await client.get("/v1/things/other-1")).status_code == 404
        assert (await client.get("/v1/things/other-2")).status_code == 404
        assert (await client.get("/v1/things/other-3")).status_code == 404
        assert (await client.get("/nowhere/at-all")).status_code == 404
        assert (await client.post("/v1/things")).status_code == 500

    assert _count(app, "GET", TEMPLATE, 200) == 2
    assert _count(app, "GET", TEMPLATE, 404) == 3
    assert _timed(app, "GET", TEMPLATE, 200) == 2
    assert _timed(app, "GET", TEMPLATE, 404) == 3
    assert _count(app, "GET", UNMATCHED, 404) == 1
    assert _count(app, "POST", "/v1/things", 500) == 1  # the app raised: counted as answered
    routes = {s.labels["route"] for m in app.state.metrics.collect()
              if m.name == "emining_http_requests" for s in m.samples}
    assert routes == {TEMPLATE, UNMATCHED, "/v1/things"}  # no raw path became a series


def test_the_http_service_exports_what_it_measures_and_none_of_the_views_metrics(tmp_path):
    VIEW_LAG.labels(topic="t", partition="0").set(7)  # as if a view consumer ran in here
    anchor = b64(PrivateKey.generate(PLATFORM_ORG).public_key)
    app = build_app(Settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9",
                             kafka_security="none", trust_anchor=anchor))
    text = generate_latest(app.state.metrics).decode()
    for name in ("emining_http_requests_total", "emining_http_request_duration_seconds",
                 "emining_gateway_requests_total", "emining_events_published_total",
                 "process_cpu_seconds_total", "python_gc_objects_collected_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert "emining_view" not in text
    assert "emining_dlq" not in text
    assert "emining_records_rejected" not in text


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    built = await build(tmp_path_factory.mktemp("reads"))
    yield built
    await built.accounts.close()
    await built.store.close()


def _read_api(world: World) -> FastAPI:
    """The views' read API as ``infra.compose.app`` wires it (no broker: freshness unknown)."""
    app = FastAPI()
    instrument(app)
    access = access_dependency(Authenticator(world.keys, world.accounts),
                               lambda: world.registry, ReadLog(world.store))
    app.include_router(create_views_router(world.store, Freshness(None, ()), access),
                       prefix="/v1")
    return app


async def test_every_read_is_logged_once_with_caller_route_status_time_and_count(world):
    token = world.keys.issue(FIRM_A, replace=True)
    auth = {"Authorization": f"Bearer {token}"}
    shipment = scenario.ids_of(0)["shipment"]
    app = _read_api(world)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        with capture_logs() as logs:
            listed = await client.get("/v1/shipments", params={"limit": 3}, headers=auth)
            one = await client.get(f"/v1/shipments/{shipment}", headers=auth)
            missing = await client.get("/v1/shipments/NO-SUCH-SHIPMENT", headers=auth)
            anonymous = await client.get("/v1/shipments")
    assert (listed.status_code, one.status_code, missing.status_code, anonymous.status_code) == (
        200, 200, 404, 401)
    reads = [e for e in logs if e["event"] == "api_read"]
    assert [(e["route"], e["status"]) for e in reads] == [
        ("/v1/shipments", 200), ("/v1/shipments/{shipment_id}", 200),
        ("/v1/shipments/{shipment_id}", 404), ("/v1/shipments", 401)]
    assert [e["path"] for e in reads] == [
        "/v1/shipments", f"/v1/shipments/{shipment}", "/v1/shipments/NO-SUCH-SHIPMENT",
        "/v1/shipments"]
    assert [e["org"] for e in reads] == [FIRM_A, FIRM_A, FIRM_A, None]
    assert reads[0]["principal"].startswith("api-key:")
    assert reads[0]["results"] == len(listed.json()["items"]) == 3
    assert reads[1]["results"] == 1
    assert "results" not in reads[2]  # nothing was read: no count, rather than a false 0
    assert all(isinstance(e["duration_ms"], float) and e["duration_ms"] >= 0 for e in reads)
    assert all(e["log_level"] == "info" for e in reads)
    assert token not in repr(logs)  # no credential in any line
    assert _count(app, "GET", "/v1/shipments/{shipment_id}", 404) == 1


def test_the_view_consumers_registry_holds_its_metrics_and_no_http_ones():
    from consumers.metrics import VIEWS  # noqa: PLC0415
    from infra.metrics import process_registry  # noqa: PLC0415
    from producers.metrics import PUBLISHING  # noqa: PLC0415

    VIEW_LAG.labels(topic="t", partition="1").set(3)
    text = generate_latest(process_registry(VIEWS, PUBLISHING)).decode()
    assert 'emining_view_lag_records{partition="1",topic="t"} 3.0' in text
    assert "# TYPE emining_views_broker_connected gauge" in text
    assert "# TYPE emining_events_published" in text  # the alerts publish
    assert "emining_http" not in text
    assert "emining_gateway" not in text
