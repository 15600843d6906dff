"""A gateway over the session broker: registry on the log, keys, API keys, an HTTP client."""

from __future__ import annotations

import asyncio
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from consumers.store import ViewStore
from consumers.store_batch import view_row
from consumers.views.families import FAMILIES
from consumers.views.models import ProjectView
from infra.compose.app import build_app
from infra.settings import Settings
from producers.gateway_auth import ApiKeyStore
from producers.gateway_state import GatewayState
from producers.keys import key_file_name, write_key
from producers.publisher import Draft, Publisher
from schemas.alerts import PLATFORM_ORG
from schemas.catalogue import model_for
from schemas.common import Province
from schemas.envelope import ATTRIBUTES, seal
from schemas.events.examples import OPERATOR
from schemas.events.projects import ProjectStage
from schemas.participants import AuthorityGrantSpec, Organisation, RegistrySeed
from schemas.registry import seed_events
from schemas.signing import GENESIS_HASH, PrivateKey, b64
from schemas.topics import PROJECTS, SHARED_TOPICS
from tests.kafka_support import settings_for
from transport.access import KafkaAccess
from transport.meta import partitions_of


class Topics:
    """End offsets and single records of the shared topics, through one long-lived consumer."""

    def __init__(self, kafka: KafkaAccess) -> None:
        self._kafka = kafka
        self._consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
        self._tps: list[TopicPartition] = []

    async def start(self) -> None:
        await self._consumer.start()
        for topic in SHARED_TOPICS:
            parts = await partitions_of(self._kafka, topic)
            assert parts, f"{topic} has no partitions"
            self._tps += [TopicPartition(topic, p) for p in parts]

    async def stop(self) -> None:
        await self._consumer.stop()

    async def end_offsets(self) -> dict[tuple[str, int], int]:
        ends = await self._consumer.end_offsets(self._tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def record(self, topic: str, partition: int, offset: int) -> Any:
        tp = TopicPartition(topic, partition)
        self._consumer.assign([tp])
        self._consumer.seek(tp, offset)
        for _ in range(20):
            for records in (await self._consumer.getmany(tp, timeout_ms=500)).values():
                for record in records:
                    if record.offset == offset:
                        return record
        raise AssertionError(f"no record at {topic}[{partition}]@{offset}")

    async def records_with_id(self, topic: str, event_id: str) -> list[Any]:
        """Every record of ``topic`` whose ce_id is ``event_id`` (reads the whole topic)."""
        tps = [tp for tp in self._tps if tp.topic == topic]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        end = await self._consumer.end_offsets(tps)
        found: list[Any] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, records in (await self._consumer.getmany(*tps, timeout_ms=500)).items():
                found += [r for r in records if dict(r.headers).get("ce_id") == event_id.encode()]
                if records and records[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
        return found


@dataclass
class World:
    kafka: KafkaAccess
    settings: Settings
    app: FastAPI
    state: GatewayState
    client: httpx.AsyncClient
    topics: Topics
    operator: PrivateKey
    firm: PrivateKey
    """A Chinese operator (USCC ``OPERATOR``): posts unsigned events, the gateway holds its key."""
    agency: PrivateKey
    """A Balochistan licensing agency: signs its own events and posts them pre-signed."""
    firm_token: str
    agency_token: str
    operator_chains: Path

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def presigned(
        self,
        type_name: str,
        *,
        key: PrivateKey | None = None,
        source: str | None = None,
        sequence: int = 1,
        changes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A CloudEvent in structured JSON form, signed as ``source`` with ``key``."""
        key = key or self.agency
        cls = model_for(type_name)
        data = cls.model_validate({**cls.EXAMPLE, **(changes or {})})  # type: ignore[attr-defined]
        env = seal(
            data,
            source=source or f"{key.org}/ops",
            signer=key.signer(),
            sequence=sequence,
            prevhash=GENESIS_HASH,
            event_id=str(uuid.uuid4()),
            time=datetime.now(UTC),
        )
        body: dict[str, Any] = {a: env.attributes[a] for a in ATTRIBUTES}
        body["data"] = env.data_json
        return body


def unique_org(side: str, kind: str, name: str) -> str:
    return f"urn:emining:{side}:{kind}:{name}-{uuid.uuid4().hex[:8]}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def publish_registry(
    kafka: KafkaAccess, operator: PrivateKey, state_dir: Path, orgs: list[Organisation],
    keys: dict[str, bytes],
) -> None:
    """Onboard ``orgs`` on the log as the operator: the path every real deployment takes."""
    seed = RegistrySeed(platform=PLATFORM_ORG, organisations=tuple(orgs))
    events = seed_events(seed, keys, datetime.now(UTC) - timedelta(minutes=5))
    async with Publisher(kafka=kafka, key=operator, source=f"{PLATFORM_ORG}/registry",
                         state_dir=state_dir) as pub:
        await pub.publish_many([Draft(e) for e in events])


def firm_org(org_id: str) -> Organisation:
    return Organisation.model_validate({
        "id": org_id, "names": {"en": "Example Mining (test)"}, "side": "CN", "role": "firm",
        "uscc": OPERATOR,
        "authorities": [AuthorityGrantSpec.model_validate({
            "id": "firm-projects", "event_types": ["pk.emining.project.*"],
            "provinces": ["PK-BA"], "own_only": True,
        })],
    })


def agency_org(org_id: str) -> Organisation:
    return Organisation.model_validate({
        "id": org_id, "names": {"en": "Mines & Minerals, Balochistan (test)"}, "side": "PK",
        "role": "agency",
        "authorities": [AuthorityGrantSpec.model_validate({
            "id": "ba-licensing", "event_types": ["pk.emining.approval.licence.*"],
            "provinces": ["PK-BA"],
        })],
    })


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan (httpx's ASGI transport does not run it) and a client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


REGISTERED_PROJECTS = ("PRJ-BA-CHG-0007", *(f"PRJ-BA-CHG-{i:04d}" for i in range(1, 41)))
"""Projects the tests' milestones are about: registered (in production) in the views, as a
project must be before anything else is said of it, so the gateway's lifecycle check, which
judges whenever the views are caught up with the partition, lets the milestones through."""


async def register_projects(settings: Settings, project_ids: tuple[str, ...]) -> None:
    """The projects' views as the views consumer would have left them after registration."""
    views = ViewStore(settings.views_store_url)
    await views.open(check_version=False)
    now = datetime.now(UTC)
    try:
        async with views.writing() as (conn, tables):
            await conn.execute(tables.view("projects").insert(), [
                view_row(FAMILIES[PROJECTS], project, ProjectView(
                    project_id=project, operator_uscc=OPERATOR, province=Province.BALOCHISTAN,
                    stage=ProjectStage.PRODUCTION, updated_at=now))
                for project in dict.fromkeys(project_ids)])
    finally:
        await views.close()


@pytest.fixture(scope="module")
async def world(
    kafka_access: KafkaAccess, catalogue_applied: object, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    root = tmp_path_factory.mktemp("gateway")
    operator = PrivateKey.generate(PLATFORM_ORG)
    firm = PrivateKey.generate(unique_org("cn", "ent", "gw-firm"))
    agency = PrivateKey.generate(unique_org("pk", "gov", "gw-agency"))
    await publish_registry(
        kafka_access, operator, root / "operator-chains",
        [firm_org(firm.org), agency_org(agency.org)],
        {firm.org: firm.public_key, agency.org: agency.public_key},
    )
    settings = settings_for(
        kafka_access,
        state_dir=root / "state",
        trust_anchor=b64(operator.public_key),
        client_timeout_s=5.0,
    )
    write_key(firm, settings.custody_path / key_file_name(firm.org))
    store = ApiKeyStore(settings.api_keys_path)
    firm_token, agency_token = store.issue(firm.org), store.issue(agency.org)
    await register_projects(settings, REGISTERED_PROJECTS)
    app = build_app(settings)
    topics = Topics(kafka_access)
    await topics.start()
    try:
        async with running(app) as client:
            yield World(
                kafka=kafka_access, settings=settings, app=app,
                state=app.state.gateway, client=client, topics=topics, operator=operator,
                firm=firm, agency=agency, firm_token=firm_token, agency_token=agency_token,
                operator_chains=root / "operator-chains",
            )
    finally:
        await topics.stop()


async def schemathesis(app: FastAPI, *args: str, timeout_s: float = 240) -> tuple[int, str]:
    """Serve ``app`` on a free loopback port and run schemathesis against its OpenAPI document
    with ``args``; its exit code and report."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "schemathesis"), "run",
            f"http://127.0.0.1:{port}/openapi.json", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    finally:
        server.should_exit = True
        await serving
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")
