"""The SSE stream and ``emining alerts tail``: an organisation only ever reads its own alerts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.reader import AlertVerifier
from consumers.alerts.sse import create_stream_router
from consumers.alerts.store import AlertStore, record_alerts
from producers.gateway_auth import ApiKeyStore
from producers.keys import write_key
from producers.publisher import Publisher
from schemas.alerts import PLATFORM_ORG
from schemas.envelope import KafkaRecord
from schemas.signing import PrivateKey, b64
from schemas.topics import alerts_topic
from tests.http_server import serving
from tests.integration.alerts.conftest import (
    customs_hold_alert,
    ensure,
    topic_records,
    unique_firm,
)
from tests.kafka_support import access_env
from transport.access import KafkaAccess
from transport.sender import RecordSender

pytestmark = pytest.mark.integration


async def deliver(kafka: KafkaAccess, store: AlertStore, operator: PrivateKey, state: Path,
                  alerts: list[Any]) -> None:
    async with store.writing() as conn:
        await record_alerts(conn, alerts)

    async def ensure_topics(orgs: list[str]) -> None:
        await ensure(kafka, orgs)

    delivery = AlertDelivery(store, key=operator, kafka=kafka, state_dir=state,
                             ensure_topics=ensure_topics)
    await delivery.start()
    try:
        await delivery.run_once()
    finally:
        await delivery.stop()


async def read_events(base: str, token: str, count: int, *, headers: dict[str, str] | None = None,
                      params: dict[str, str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(id, data)`` of the first ``count`` alert events of the stream (10 s at most)."""
    events: list[tuple[str, dict[str, Any]]] = []
    event_id = ""
    auth = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with (
        httpx.AsyncClient(base_url=base, timeout=20) as client,
        client.stream("GET", "/v1/alerts/stream", params=params, headers=auth) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")

        async def collect() -> None:
            nonlocal event_id
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    events.append((event_id, json.loads(line[6:])))
                    if len(events) >= count:
                        return

        with pytest.raises(TimeoutError) if count > 99 else contextlib.nullcontext():
            await asyncio.wait_for(collect(), 10)  # >99: read all there is, for 10 s
    return events


async def test_each_organisation_streams_only_its_own_verified_alerts(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey,
    verifier: AlertVerifier, tmp_path: Path,
) -> None:
    firm_a, firm_b = unique_firm(), unique_firm()
    mine = [customs_hold_alert(firm_a, f"SHP-2026-00050{i}") for i in range(2)]
    theirs = [customs_hold_alert(firm_b, "SHP-2026-000600")]
    await deliver(kafka_access, alert_store, operator, tmp_path / "chains", mine + theirs)
    # noise on A's topic: B's genuine alert copied there, and an alert signed by an impostor
    [b_record] = await topic_records(kafka_access, firm_b)
    impostor = PrivateKey.generate(PLATFORM_ORG)
    async with RecordSender(kafka_access) as sender:
        await sender.send([KafkaRecord(alerts_topic(firm_a), b_record.key, b_record.value,
                                       list(b_record.headers))])
    async with Publisher(key=impostor, source=f"{PLATFORM_ORG}/alerts", kafka=kafka_access,
                         state_dir=tmp_path / "impostor") as forger:
        await forger.publish(customs_hold_alert(firm_a, "SHP-2026-000999"))
    api_keys = ApiKeyStore(tmp_path / "api_keys.json")
    token_a, token_b = api_keys.issue(firm_a), api_keys.issue(firm_b)
    app = FastAPI()
    app.include_router(create_stream_router(api_keys, kafka_access, verifier), prefix="/v1")
    async with serving(app) as base:
        got_a = await read_events(base, token_a, 100, params={"from_beginning": "true"})
        got_b = await read_events(base, token_b, 1, params={"from_beginning": "true",
                                                            "lang": "zh"})
        resumed = await read_events(base, token_a, 1, headers={"Last-Event-ID": got_a[0][0]})
        async with httpx.AsyncClient(base_url=base) as client:
            refused = await client.get("/v1/alerts/stream", headers={"X-API-Key": "emk_wrong"})
    assert [d["alert_id"] for _, d in got_a] == [a.alert_id for a in mine]
    assert [i for i, _ in got_a] == ["0:1", "0:2"]
    assert got_a[0][1]["text"] == mine[0].texts.en
    assert got_a[0][1]["alert"]["recipient"] == firm_a
    assert [d["alert_id"] for _, d in got_b] == [theirs[0].alert_id]
    assert got_b[0][1]["text"] == theirs[0].texts.zh
    assert [d["alert_id"] for _, d in resumed] == [mine[1].alert_id]
    assert refused.status_code == 401


async def _cli(args: list[str], env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_tail_prints_the_organisations_alerts_in_the_asked_language(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey, tmp_path: Path,
) -> None:
    firm = unique_firm()
    alerts = [customs_hold_alert(firm, "SHP-2026-000700")]
    await deliver(kafka_access, alert_store, operator, tmp_path / "chains", alerts)
    key_file = write_key(operator, tmp_path / "operator.key")
    env = {**os.environ, **access_env(kafka_access),
           "EMINING_STATE_DIR": str(tmp_path / "state"), "EMINING_OPERATOR_KEY_FILE": str(key_file),
           "EMINING_TRUST_ANCHOR": b64(operator.public_key)}
    base = [str(Path(sys.executable).with_name("emining")), "alerts", "tail", "--org", firm,
            "--from-beginning", "--count", "1"]
    urdu = await _cli([*base, "--lang", "ur"], env)
    as_json = await _cli([*base, "--json"], env)
    alert = alerts[0]
    assert urdu == f"[warning] 2026-05-01 06:00Z customs_hold SHP-2026-000700: {alert.texts.ur}\n"
    assert json.loads(as_json)["alert_id"] == alert.alert_id
