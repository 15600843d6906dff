"""The ``robot`` channel (WeCom / DingTalk group robots) against a real local HTTP server.

The exact payload, DingTalk's signature, retries on 5xx and throttling, a refusal dead-lettered
at once without the robot's key, no delivery for another organisation's alert, and a restart or
a dead worker between queueing and sending that neither loses nor repeats the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from consumers.alerts import outbox
from consumers.alerts.channel import Channel, Endpoint, RetryPolicy
from consumers.alerts.channel_worker import ChannelSender, ChannelWorker, KafkaDeadLetters
from consumers.alerts.channels import CHANNELS
from consumers.alerts.clock import ManualClock
from consumers.alerts.directory import Directory
from consumers.alerts.http import create_alerts_router
from consumers.alerts.robots import MAX_CONTENT_BYTES, ROBOT
from consumers.alerts.service import AlertsService
from consumers.alerts.store import AlertStore, Delivered, mark_delivered, record_alerts
from consumers.alerts.webhook_targets import TargetPolicy
from consumers.store import ViewStore
from producers.gateway_auth import ApiKeyStore
from schemas.alerts import AlertRaised, AlertRule, alert_id
from schemas.envelope import KafkaRecord
from tests.unit.alerts.world import HUAYE, MCC, NOW, REGISTRY, context
from tests.unit.http_server import QuietHandler, serving
from transport.sender import Ack

SOURCE = "urn:emining:xx:platform:operator/alerts"
LOCAL = TargetPolicy.allowing(["127.0.0.1"])
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
TOKEN = "9f1c2d3e4b5a69788796a5b4c3d2e1f0"
OK = {"errcode": 0, "errmsg": "ok"}


@dataclass
class Call:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at_ms: int


@dataclass
class Robot:
    url: str
    script: list[tuple[int, object]]
    """(status, JSON answer) in order; ``(200, OK)`` once exhausted."""
    calls: list[Call] = field(default_factory=list)


@contextmanager
def robot(*script: tuple[int, object], path: str = "/robot/send") -> Iterator[Robot]:
    """A group robot on a free loopback port, answering as the script says."""
    state = Robot(url="", script=list(script))

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            state.calls.append(Call(parts.path, parse_qs(parts.query),
                                    dict(self.headers.items()), body, int(time.time() * 1000)))
            status, answer = state.script.pop(0) if state.script else (200, OK)
            self.answer_json(status, json.dumps(answer).encode())

    with serving(Handler) as base:
        state.url = f"{base}{path}?access_token={TOKEN}"
        yield state


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class DeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, str, str]] = []

    async def dead(self, channel: Channel, endpoint: Endpoint, alert_id: str, body: bytes,
                   reason: str) -> None:
        self.letters.append((channel.shown(endpoint.url), alert_id, reason))


def views_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'views.sqlite'}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    alerts = AlertStore(ViewStore(views_url(tmp_path)))
    await alerts.open()
    yield alerts
    await alerts.views.close()


def service(store: AlertStore, targets: TargetPolicy = LOCAL) -> AlertsService:
    config = context().config
    return AlertsService(store, lambda: Directory(REGISTRY, config), ManualClock(NOW),
                         targets=targets)


def an_alert(recipient: str = MCC, **texts: str) -> AlertRaised:
    """The schema's example alert (a licence granted; the recipient prefers Chinese)."""
    doc = json.loads(json.dumps(AlertRaised.EXAMPLE))
    doc["recipient"] = recipient
    doc["texts"].update(texts)
    doc["alert_id"] = alert_id(AlertRule(doc["rule"]), doc["cause"]["key"], recipient)
    return AlertRaised.model_validate(doc)


async def queue(store: AlertStore, alert: AlertRaised) -> None:
    """What the delivery worker does once Kafka acknowledged the alert: one transaction."""
    async with store.writing() as conn:
        assert await record_alerts(conn, [alert]) == [alert.alert_id]
        await mark_delivered(conn, [Delivered(alert.alert_id, alert.destination_topic(), 0, 3)],
                             NOW)


def worker(store: AlertStore, client: httpx.AsyncClient, sleeps: Sleeps, dead: Any,
           *, attempts: int = 4, clock: ManualClock | None = None) -> ChannelWorker:
    sender = ChannelSender(ROBOT, client, RetryPolicy(attempts=attempts, base_s=0.5),
                           sleep=sleeps, targets=LOCAL)
    return ChannelWorker(store, sender, dead, source=SOURCE, clock=clock or ManualClock(NOW))


async def status_of(store: AlertStore, alert: AlertRaised) -> dict[str, tuple[str, int]]:
    async with store.reading() as conn:
        return await outbox.delivery_status(conn, ROBOT.tables, alert.alert_id)


def expected_sign(secret: str, timestamp: str) -> str:
    """DingTalk's documented recipe, written out here independently of the channel."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_the_robot_channel_is_registered() -> None:
    names = [c.name for c in CHANNELS]
    assert names.count("robot") == 1
    assert len(set(names)) == len(names)


async def test_a_dingtalk_robot_gets_the_signed_markdown_in_chinese_after_retries(
    store: AlertStore,
) -> None:
    alert, sleeps, dead = an_alert(), Sleeps(), DeadLetters()
    with robot((502, {}), (200, {"errcode": 130101, "errmsg": "send too fast"})) as mcc, \
            robot() as huaye:
        mine = await service(store).add_target(
            "robot", MCC, mcc.url, secret=SECRET,
            options={"flavour": "dingtalk", "keyword": "矿业"})
        await service(store).add_target("robot", HUAYE, huaye.url, secret=SECRET,
                                        options={"flavour": "dingtalk"})
        await queue(store, alert)
        before = int(time.time() * 1000)
        async with httpx.AsyncClient() as client:
            assert await worker(store, client, sleeps, dead).run_once() == 1
    assert sleeps.delays == [0.5, 1.0]  # a 502 and a throttled answer, each retried
    assert len(mcc.calls) == 3
    assert huaye.calls == []  # HUAYE's robot is not told of MCC's alert
    last = mcc.calls[-1]
    assert last.path == "/robot/send"
    assert last.headers["Content-Type"] == "application/json; charset=utf-8"
    assert set(last.query) == {"access_token", "timestamp", "sign"}
    assert last.query["access_token"] == [TOKEN]
    [stamp], [sign] = last.query["timestamp"], last.query["sign"]
    assert before - 1000 <= int(stamp) <= last.at_ms
    assert sign == expected_sign(SECRET, stamp)
    assert sign != expected_sign(SECRET + "x", stamp)
    title = "BA-EL-2025-0153 · 矿业"
    assert json.loads(last.body) == {"msgtype": "markdown", "markdown": {
        "title": title,
        "text": f"#### {title}\n\n勘探许可证 BA-EL-2025-0153 已由俾路支省矿产开发厅于2026年2月1日"
                f"批准。\n\n> {alert.alert_id}"}}
    assert dead.letters == []
    assert await status_of(store, alert) == {mine.id: ("delivered", 3)}


async def test_a_wecom_robot_gets_unsigned_markdown_in_the_language_it_chose(
    store: AlertStore,
) -> None:
    alert, sleeps, dead = an_alert(), Sleeps(), DeadLetters()
    with robot(path="/cgi-bin/webhook/send") as wecom:
        await service(store).add_target("robot", MCC, wecom.url,
                                        options={"flavour": "wecom", "lang": "en"})
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            assert await worker(store, client, sleeps, dead).run_once() == 1
    [call] = wecom.calls
    assert call.query == {"access_token": [TOKEN]}  # no timestamp, no sign
    assert json.loads(call.body) == {"msgtype": "markdown", "markdown": {
        "content": "#### BA-EL-2025-0153\n\nExploration licence BA-EL-2025-0153 was granted by "
                   "Mines & Minerals Development Department, Balochistan on 1 February 2026."
                   f"\n\n> {alert.alert_id}"}}


async def test_a_refusal_is_dead_lettered_at_once_and_5xx_until_the_tries_run_out(
    store: AlertStore,
) -> None:
    refused, failing = an_alert(MCC), an_alert(HUAYE)
    sleeps, dead = Sleeps(), DeadLetters()
    with robot((200, {"errcode": 310000, "errmsg": "sign not match"})) as mcc, \
            robot(*[(503, {})] * 4) as huaye:
        await service(store).add_target("robot", MCC, mcc.url, secret=SECRET,
                                        options={"flavour": "dingtalk"})
        await service(store).add_target("robot", HUAYE, huaye.url,
                                        options={"flavour": "wecom"})
        await queue(store, refused)
        await queue(store, failing)
        async with httpx.AsyncClient() as client:
            run = worker(store, client, sleeps, dead)
            assert await run.run_once() == 2
            assert await run.run_once() == 0  # settled: never sent again
    assert (len(mcc.calls), len(huaye.calls)) == (1, 4)
    assert sorted(sleeps.delays) == [0.5, 1.0, 2.0]  # only the 503s were retried
    letters = {letter[1]: letter for letter in dead.letters}
    assert letters[refused.alert_id][2] == (
        "1 attempt(s), last: robot errcode 310000: sign not match")
    assert letters[failing.alert_id][2] == "4 attempt(s), last: HTTP 503"
    for shown, _, _ in dead.letters:
        assert TOKEN not in shown
        assert shown.endswith("/robot/send?access_token=***")
    assert (await status_of(store, refused)).popitem()[1] == ("dead", 1)
    assert (await status_of(store, failing)).popitem()[1] == ("dead", 4)


async def test_the_dlq_record_names_the_robot_without_its_key() -> None:
    class Sender:
        def __init__(self) -> None:
            self.records: list[KafkaRecord] = []

        async def send(self, records: list[KafkaRecord]) -> list[Ack]:
            self.records.extend(records)
            return [Ack("emining.dlq.v1", 0, 1)]

    sender = Sender()
    endpoint = Endpoint("r1", MCC, f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
                        SECRET, {"flavour": "dingtalk"})
    await KafkaDeadLetters(sender).dead(ROBOT, endpoint, "a1", b"{}", "why")  # type: ignore[arg-type]
    [record] = sender.records
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["dlq_url"] == "https://oapi.dingtalk.com/robot/send?access_token=***"
    assert (headers["dlq_reason"], headers["dlq_robot"], headers["dlq_org"]) == (
        "robot_failed", "r1", MCC)
    assert TOKEN not in repr(record)
    assert SECRET not in repr(record)


@pytest.mark.parametrize(("url", "shown"), [
    (f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
     "https://oapi.dingtalk.com/robot/send?access_token=***"),
    (f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={TOKEN}&debug=1",
     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***&debug=***"),
    (f"https://robots.example/hook/{TOKEN}", "https://robots.example/hook/***"),
    (f"https://robots.example/open-apis/bot/v2/hook/{TOKEN[:8]}-{TOKEN[8:12]}/send",
     "https://robots.example/open-apis/bot/v2/hook/***/send"),
    ("https://robots.example/T0A1B2C3/B9Z8Y7X6/abcdefghijklmnopqrstuvwx",
     "https://robots.example/***/***/***"),
    ("https://robots.example:8443/k3y12345", "https://robots.example:8443/***"),
    ("https://u:p4ssw0rd@robots.example/send", "https://robots.example/send"),
])
def test_a_robots_url_is_shown_without_anything_that_may_be_its_key(url: str, shown: str) -> None:
    assert ROBOT.shown(url) == shown


async def test_a_restart_or_a_dead_worker_between_queue_and_send_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    alert, sleeps, dead = an_alert(), Sleeps(), DeadLetters()
    with robot() as mcc:
        first = AlertStore(ViewStore(views_url(tmp_path)))
        await first.open()
        target = await service(first).add_target("robot", MCC, mcc.url,
                                                 options={"flavour": "wecom"})
        await queue(first, alert)  # committed with the alert; then the process stops
        async with httpx.AsyncClient() as client:
            died = worker(first, client, sleeps, dead)
            assert [j.endpoint.id for j in await died._claim()] == [target.id]  # then dies
        await first.views.close()
        assert mcc.calls == []
        restarted = AlertStore(ViewStore(views_url(tmp_path)))
        await restarted.open()
        try:
            clock = ManualClock(NOW)
            async with httpx.AsyncClient() as client:
                again = worker(restarted, client, sleeps, dead, clock=clock)
                assert await again.run_once() == 0  # the dead worker's lease still holds
                clock.advance(timedelta(minutes=31))
                assert await again.run_once() == 1
                assert await again.run_once() == 0
            assert await status_of(restarted, alert) == {target.id: ("delivered", 1)}
        finally:
            await restarted.views.close()
    assert len(mcc.calls) == 1
    assert alert.alert_id in json.loads(mcc.calls[0].body)["markdown"]["content"]


def test_text_from_events_makes_no_links_or_markup_and_fits_a_wecom_message() -> None:
    hostile = an_alert(zh='见[官方通知](https://evil.example)<font color="warning">`x`</font>')
    endpoint = Endpoint("r1", MCC, "https://qyapi.weixin.qq.com/x?key=k", "",
                        {"flavour": "wecom"})
    content = json.loads(ROBOT.body(endpoint, hostile, SOURCE))["markdown"]["content"]
    inert = ('见\uff3b官方通知\uff3d(https://evil.example)\uff1cfont color="warning"\uff1e'
             "\uff40x\uff40\uff1c/font\uff1e")  # full-width [ ] < > `
    assert inert in content
    assert not any(c in content.split("\n\n")[1] for c in "[]<>`")
    long = an_alert(zh="矿" * 2000)  # 6,000 bytes of text
    content = json.loads(ROBOT.body(endpoint, long, SOURCE))["markdown"]["content"]
    assert len(content.encode()) <= MAX_CONTENT_BYTES + 3
    assert content.endswith(f"…\n\n> {long.alert_id}")


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


async def test_an_organisation_registers_its_own_robots_over_http(store: AlertStore,
                                                                  tmp_path: Path) -> None:
    keys = ApiKeyStore(tmp_path / "api_keys.json")
    app = FastAPI()
    app.include_router(create_alerts_router(service(store, TargetPolicy(resolver=_public)),
                                            keys), prefix="/v1")
    mcc, huaye = {"X-API-Key": keys.issue(MCC)}, {"X-API-Key": keys.issue(HUAYE)}
    url = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        created = await client.post("/v1/alerts/channels/robot", headers=mcc, json={
            "url": url, "secret": SECRET, "options": {"flavour": "dingtalk"}})
        assert created.status_code == 201, created.text
        doc = created.json()
        assert (doc["channel"], doc["url"], doc["options"], doc["secret"]) == (
            "robot", "https://oapi.dingtalk.com/robot/send?access_token=***",
            {"flavour": "dingtalk"}, None)  # the org's own secret is never shown back
        assert TOKEN not in created.text
        assert SECRET not in created.text
        listed = (await client.get("/v1/alerts/channels/robot", headers=mcc)).json()
        assert [(t["id"], t["pending"]) for t in listed] == [(doc["id"], 0)]
        assert (await client.get("/v1/alerts/channels/robot", headers=huaye)).json() == []
        assert (await client.delete(f"/v1/alerts/channels/robot/{doc['id']}",
                                    headers=huaye)).status_code == 404
        for body, why in [
            ({"url": url, "options": {"flavour": "slack"}}, "flavour"),
            ({"url": url, "secret": SECRET, "options": {"flavour": "wecom"}}, "DingTalk"),
            ({"url": url, "options": {"flavour": "wecom", "colour": "red"}}, "options"),
            ({"url": "http://169.254.169.254/robot/send", "options": {"flavour": "wecom"}},
             "link-local"),
            ({"url": "http://127.0.0.1:8080/robot", "options": {"flavour": "wecom"}},
             "loopback"),
        ]:
            refused = await client.post("/v1/alerts/channels/robot", headers=mcc, json=body)
            assert refused.status_code == 422, body
            assert why in refused.json()["detail"][0]["msg"], refused.text
        assert (await client.delete(f"/v1/alerts/channels/robot/{doc['id']}",
                                    headers=mcc)).status_code == 204
        assert (await client.get("/v1/alerts/channels/robot", headers=mcc)).json() == []


def test_an_organisation_registers_a_robot_from_the_command_line(tmp_path: Path) -> None:
    from infra.cli import app  # noqa: PLC0415

    secret = tmp_path / "robot.secret"
    secret.write_text(SECRET + "\n")
    env = {"EMINING_STATE_DIR": str(tmp_path / "state"),
           "EMINING_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
    url = f"http://127.0.0.1:9/robot/send?access_token={TOKEN}"
    runner = CliRunner()
    added = runner.invoke(app, ["alerts", "channels", "add", "robot", "--org", MCC, url,
                                "--option", "flavour=dingtalk", "--secret-file", str(secret),
                                "--json"], env=env)
    assert added.exit_code == 0, added.output
    doc = json.loads(added.output)
    assert (doc["url"], doc["options"], doc["secret"]) == (
        "http://127.0.0.1:9/robot/send?access_token=***", {"flavour": "dingtalk"}, None)
    listed = runner.invoke(app, ["alerts", "channels", "list", "robot", "--org", MCC, "--json"],
                           env=env)
    assert [t["id"] for t in json.loads(listed.output)] == [doc["id"]]
    assert TOKEN not in listed.output
    assert SECRET not in listed.output
    other = runner.invoke(app, ["alerts", "channels", "remove", "robot", "--org", HUAYE,
                                doc["id"]], env=env)
    assert other.exit_code == 1
