"""An officer's grant posted from the console lands on the log (signed custodially by the
gateway) and shows in the holder firm's inbox through the alert pipeline, on the real broker:
console → gateway.submit → Kafka → view consumer with the alerts plugin → outbox → the firm's
/inbox."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import select

from consumers.alerts.clock import ManualClock
from consumers.alerts.store import AlertStore, recent_alerts
from consumers.config import ViewTopics
from consumers.readlog import ReadLog
from consumers.store import ViewStore
from consumers.views.standing import local_day
from producers.accounts import AccountStore
from producers.gateway import submit
from producers.gateway_auth import ApiKeyStore
from producers.gateway_state import GatewayState
from producers.keys import key_file_name, write_key
from producers.publisher import Draft
from schemas.access import UserRole
from schemas.alerts import AlertRaised, AlertRule
from schemas.common import Language
from schemas.envelope_read import from_record
from schemas.participants import AuthorityGranted
from schemas.registry import Registry
from tests.console_world import World, registry
from tests.integration.alerts.pipeline import FIRM, consuming, plugin, publish, views_config
from tests.integration.views import scenario
from tests.integration.views.bus import Bus, RenamingSender, renames
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

PASSWORD = "a-long-test-password-1"
TITLE = "BA-EL-2025-0153"
MMDD = scenario.BA_MMDD


async def _sign_in(client: httpx.AsyncClient, username: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = await client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token[1], "next": "/inbox"})
    assert done.status_code == 303


async def _record(kafka: KafkaAccess, topic: str, partition: int, offset: int) -> object:
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for _ in range(20):
            for records in (await consumer.getmany(tp, timeout_ms=500)).values():
                for record in records:
                    if record.offset == offset:
                        return record
        raise AssertionError(f"no record at {topic}[{partition}]@{offset}")
    finally:
        await consumer.stop()


async def _eventually(check, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not within the time allowed")
        await asyncio.sleep(0.25)


@contextlib.asynccontextmanager
async def live_console(kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus,
                       tmp_path: Path, now: datetime, *, recorded: bool = True,
                       grants: Sequence[AuthorityGranted] = (),
                       custody: Sequence[str] = (MMDD,)) -> AsyncIterator[tuple[World, FastAPI]]:
    """The console over the real pipeline: a licence application the agency recorded two days
    ago on the test's topics (unless not ``recorded``); the real view consumer with the alerts
    plugin; acting through a gateway state that holds the keys of ``custody`` (the agency's) and
    sends to the broker. ``grants``: authority the platform grants beyond the scenario's, signed
    onto the participants topic before the pipeline starts and known to the console's and the
    gateway's registries. Yields the world and the console app once the file (if recorded) is in
    the views."""
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    if grants:
        operator = await bus.publisher(scenario.PLATFORM)
        await operator.publish_many([Draft(g, time=scenario.REGISTRY_FROM) for g in grants])
    if recorded:
        await publish(bus, MMDD, scenario.event(
            "pk.emining.approval.licence.application.received",
            received_at=(now - timedelta(days=2)).isoformat()), now - timedelta(days=2),
            "evt-recv")

    state = _gateway(kafka_access, view_topics, tmp_path, custody=custody, grants=grants)
    accounts = await _accounts(tmp_path)
    views = ViewStore(f"sqlite+aiosqlite:///{tmp_path / 'views.sqlite'}")
    try:
        async with consuming(views_config(kafka_access, view_topics, store_url),
                             plugin(kafka_access, ManualClock(now), tmp_path / "alert-chains")), \
                state.running():
            await views.open(check_version=False)
            await ReadLog(views).create_table()  # a page showing restricted fields logs it
            try:
                world = World(views, accounts, AlertStore(views), _granted(registry(), grants),
                              ApiKeyStore(tmp_path / "keys.json"), tmp_path)

                async def file_in_views() -> bool:
                    async with views.reading() as (conn, tables):
                        table = tables.view("approvals")
                        row = await conn.execute(select(table.c.subject).where(
                            table.c.subject == TITLE))
                        return row.first() is not None

                if recorded:
                    await _eventually(file_in_views)
                yield world, world.app(submit=lambda org, person, event: submit(
                    state, org, person, event), today=local_day(now))
            finally:
                await views.close()
    finally:
        await accounts.close()


def _granted(built: Registry, grants: Sequence[AuthorityGranted]) -> Registry:
    """``built`` with ``grants`` applied, as the views' registry applies them from the log."""
    for grant in grants:
        built.apply(grant, scenario.REGISTRY_FROM)
    return built


async def decided(world: World) -> list[AlertRaised]:
    """The firm's ``approval_decided`` alerts about the application's title, as raised."""
    async with world.alerts.reading() as conn:
        return [a for a in await recent_alerts(conn, FIRM)
                if a.rule is AlertRule.APPROVAL_DECIDED and a.about == TITLE]


async def test_an_officers_grant_from_the_console_reaches_the_firms_inbox(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with live_console(kafka_access, view_topics, bus, tmp_path, now) as (world, app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://c") as officer, \
                httpx.AsyncClient(transport=transport, base_url="https://c") as firm:
            await _sign_in(officer, "ba.officer")
            await _sign_in(firm, "firm.manager")
            before = (await firm.get("/inbox")).text.count("data-alert-id=")
            form = (await officer.get(f"/act/grant?ref={TITLE}&lang=en")).text
            values = dict(re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', form))
            values.update(granted_on=now.date().isoformat(), expires_on="")
            receipt = await officer.post("/act/grant", data=values)
            assert receipt.status_code == 200, receipt.text
            assert "Asad Khan" in receipt.text
            position = re.search(r'class="log-position"><code>([^ ]+) / (\d+) / (\d+)</code>',
                                 receipt.text)
            assert position is not None
            topic, partition, offset = position[1], int(position[2]), int(position[3])
            assert topic == view_topics.approvals
            # On the log, where the receipt says: the grant, signed by the agency's custodial
            # source, with the event id the form carried.
            record = await _record(kafka_access, topic, partition, offset)
            env = from_record(record.key, record.value, tuple(record.headers))  # type: ignore[attr-defined]
            assert env.id == values["event_id"]
            assert env.source == f"{MMDD}/custodial-gateway"
            assert env.type.startswith("pk.emining.approval.licence.granted")

            async def in_firms_inbox() -> bool:
                found = await decided(world)
                if not found:
                    return False
                page = (await firm.get("/inbox")).text
                alerts = re.search(r'<ol class="alerts".*?</ol>', page, flags=re.DOTALL)
                assert alerts is not None
                return f'data-alert-id="{found[0].alert_id}"' in alerts[0]

            await _eventually(in_firms_inbox)
            alert = (await decided(world))[0]
            assert env.id in alert.cause.key  # raised by the event the console published
            page = (await firm.get("/inbox")).text
            assert page.count("data-alert-id=") == before + 1
            assert html.escape(alert.texts.in_language(Language.ZH), quote=False) in page


def _gateway(kafka: KafkaAccess, topics: ViewTopics, tmp_path: Path, *,
             custody: Sequence[str] = (MMDD,),
             grants: Sequence[AuthorityGranted] = ()) -> GatewayState:
    """The gateway's state, holding the keys of ``custody`` (the agency's), sending to the
    test's topics, its registry the scenario's with ``grants`` applied."""
    for org in custody:
        write_key(scenario.key_of(org), tmp_path / "custody" / key_file_name(org))

    async def load_registry() -> Registry:
        return _granted(scenario.registry(), grants)

    return GatewayState(
        sender=RenamingSender(kafka, renames(topics)), load_registry=load_registry,
        trust_anchor=[scenario.key_of(scenario.PLATFORM).public_key],
        api_keys=ApiKeyStore(tmp_path / "keys.json"), custody_dir=tmp_path / "custody",
        chain_dir=tmp_path / "gateway-chains", receipts_dir=tmp_path / "gateway",
        max_body_bytes=80 * 1024)


async def _accounts(tmp_path: Path) -> AccountStore:
    accounts = AccountStore(f"sqlite+aiosqlite:///{tmp_path / 'accounts.sqlite'}")
    await accounts.open()
    await accounts.add("ba.officer", MMDD, frozenset({UserRole.OFFICER}), PASSWORD, "Asad Khan")
    await accounts.add("firm.manager", FIRM, frozenset({UserRole.MANAGER}), PASSWORD, "Li Wei")
    return accounts

