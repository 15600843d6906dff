"""The alert stream's wire format and life cycle, served by a real uvicorn, without a broker:
``follow`` (the topic reader, tested against Kafka in tests/integration/alerts/test_stream.py)
is replaced by a script of records."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sse_starlette.sse import AppStatus

from consumers.alerts import sse
from consumers.alerts.reader import Position, Received
from producers.gateway_auth import ApiKeyStore
from schemas.alerts import AlertRaised, AlertRule, alert_id
from tests.http_server import served

FIRM = "urn:emining:cn:ent:mcc-resources"


def alert(key: str) -> AlertRaised:
    example = AlertRaised.EXAMPLE
    return AlertRaised.model_validate({
        **example, "alert_id": alert_id(AlertRule(example["rule"]), key, FIRM),
        "recipient": FIRM, "cause": {**example["cause"], "key": key}})


@dataclass
class Topic:
    """What ``follow`` yields (records, errors), then it waits for ``stop`` as a reader does."""

    items: list[Received | Exception]
    starts: list[Position | None] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def follow(self, _kafka: Any, org: str, _verifier: Any, *, start: Position | None,
                     from_beginning: bool, stop: asyncio.Event,
                     ) -> AsyncIterator[Received | Exception]:
        assert org == FIRM
        self.starts.append(start)
        for item in self.items:
            yield item
        await stop.wait()
        self.stopped.set()


def stream_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, topic: Topic,
               keepalive_s: float = 15.0) -> tuple[FastAPI, str]:
    monkeypatch.setattr(sse, "follow", topic.follow)
    keys = ApiKeyStore(tmp_path / "api_keys.json")
    app = FastAPI()
    app.include_router(sse.create_stream_router(keys, None, None,  # type: ignore[arg-type]
                                                keepalive_s=keepalive_s), prefix="/v1")
    return app, keys.issue(FIRM)


async def read_until(response: httpx.Response | AsyncIterator[str], text: str,
                     timeout_s: float = 5) -> str:
    """The stream's text (from where it is) up to the chunk holding the first ``text``."""
    chunks = response.aiter_text() if isinstance(response, httpx.Response) else response
    seen = ""
    async with asyncio.timeout(timeout_s):
        async for chunk in chunks:
            seen += chunk
            if text in seen:
                return seen
    raise AssertionError(f"the stream ended before {text!r}: {seen!r}")


@pytest.fixture(autouse=True)
def no_exit_left_behind() -> Any:
    yield
    AppStatus.should_exit = False


async def test_events_carry_the_position_as_id_and_the_alert_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = alert("SHP-1"), alert("SHP-2")
    topic = Topic([Received(first, None, 0, 0), ValueError("bad signature"),  # type: ignore[arg-type]
                   Received(second, None, 1, 6)])  # type: ignore[arg-type]
    app, token = stream_app(tmp_path, monkeypatch, topic)
    async with (
        served(app) as (base, _, _),
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/alerts/stream?lang=zh",
                      headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        chunks = response.aiter_text()
        text = await read_until(chunks, "id: 0:1,1:7\n")
        if not text.endswith("\n\n"):
            text += await read_until(chunks, "\n\n")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    blocks = text.split("\n\n")
    assert blocks[0] == ": connected"
    assert blocks[1].split("\n")[:2] == ["id: 0:1", "event: alert"]
    assert blocks[2].split("\n")[:2] == ["id: 0:1,1:7", "event: alert"]  # the refused: skipped
    data = json.loads(blocks[2].split("\n")[2].removeprefix("data: "))
    assert (data["alert_id"], data["language"], data["text"]) == (
        second.alert_id, "zh", second.texts.zh)
    assert data["alert"]["alert_id"] == second.alert_id
    assert "\r" not in text
    assert topic.starts == [None]


@pytest.mark.parametrize(("last_event_id", "start", "first_id"), [
    ("0:3,1:7", {0: 3, 1: 7}, "0:4,1:7"),
    ("not a position", None, "0:4"),
])
async def test_last_event_id_resumes_from_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, last_event_id: str,
    start: Position | None, first_id: str,
) -> None:
    topic = Topic([Received(alert("SHP-3"), None, 0, 3)])  # type: ignore[arg-type]
    app, token = stream_app(tmp_path, monkeypatch, topic)
    async with (
        served(app) as (base, _, _),
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/alerts/stream", headers={
            "Authorization": f"Bearer {token}", "Last-Event-ID": last_event_id}) as response,
    ):
        text = await read_until(response, "event: alert")
    assert topic.starts == [start]
    assert f"id: {first_id}\nevent: alert" in text


async def test_an_idle_stream_sends_keep_alive_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, token = stream_app(tmp_path, monkeypatch, Topic([]), keepalive_s=0.2)
    async with (
        served(app) as (base, _, _),
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/alerts/stream",
                      headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        text = await read_until(response, ": keep-alive\n\n: keep-alive\n\n", timeout_s=3)
    assert text.startswith(": connected\n\n: keep-alive\n\n")


async def test_a_client_that_goes_away_stops_the_topic_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = Topic([])
    app, token = stream_app(tmp_path, monkeypatch, topic)
    async with served(app) as (base, _, _):
        async with (
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            client.stream("GET", "/v1/alerts/stream",
                          headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            await read_until(response, ": connected")
            assert not topic.stopped.is_set()
        await asyncio.wait_for(topic.stopped.wait(), 5)  # the server still running


async def test_a_server_told_to_exit_ends_its_streams_and_a_later_app_streams_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = Topic([])
    app, token = stream_app(tmp_path, monkeypatch, topic)
    auth = {"Authorization": f"Bearer {token}"}
    async with served(app) as (base, server, task):
        async with (
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            client.stream("GET", "/v1/alerts/stream", headers=auth) as response,
        ):
            chunks = response.aiter_text()
            await read_until(chunks, ": connected")
            # what uvicorn's SIGTERM handler does, with sse-starlette's patch (calling it here
            # would have uvicorn raise the signal again in this process once it stopped)
            AppStatus.should_exit = server.should_exit = True
            async with asyncio.timeout(5):
                rest = [chunk async for chunk in chunks]  # the stream ends
        await asyncio.wait_for(task, 5)  # and the server stops without waiting on it
    assert rest == []
    assert topic.stopped.is_set()
    # the exit flag is process-wide: the next app (as in tests, or a demo) clears it
    later = Topic([Received(alert("SHP-4"), None, 0, 0)])  # type: ignore[arg-type]
    app, token = stream_app(tmp_path / "later", monkeypatch, later)
    async with (
        served(app) as (base, _, _),
        httpx.AsyncClient(base_url=base, timeout=10) as client,
        client.stream("GET", "/v1/alerts/stream",
                      headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        text = await read_until(response, "event: alert")
    assert "id: 0:1\nevent: alert" in text
