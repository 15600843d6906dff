"""A small world for checkpoints on the real broker: data topics, the three tlog topics of the
test's own, a platform key, one Pakistani and one Chinese witness in a registry of the test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from consumers.alerts.reader import AlertVerifier
from consumers.checkpoints.alarms import Alarm
from consumers.checkpoints.checkpointer import Checkpointer
from consumers.checkpoints.witness import Witness
from infra.compose.checkpoints import raise_alarms
from infra.settings import Settings
from producers.keys import write_key
from schemas.alerts import PLATFORM_ORG, AlertRaised
from schemas.common import Names, Role, Side
from schemas.participants import KeyAdded, OrganisationOnboarded
from schemas.registry import Registry
from schemas.signing import PrivateKey, Verifier, b64
from schemas.topics import alerts_topic
from tests.kafka_support import settings_for
from transport.access import KafkaAccess
from transport.kafka import Record
from transport.read import read_to_end


async def read_all(kafka: KafkaAccess, topic: str) -> list[Record]:
    out: list[Record] = []
    async for batch in read_to_end(kafka, [topic], timeout_s=15.0):
        out.extend(batch)
    return out


@dataclass
class World:
    kafka: KafkaAccess
    settings: Settings
    data: list[str]
    """Two data topics: three partitions and one."""
    checkpoints: str
    cosignatures: str
    refusals: str
    platform: PrivateKey
    pk: PrivateKey
    cn: PrivateKey
    registry: Registry
    state_dir: Path
    producer: AIOKafkaProducer

    async def produce(self, topic: str, n: int, partition: int = 0, tag: str = "r") -> None:
        for i in range(n):
            key = None if i % 5 == 4 else f"{tag}-{i}".encode()
            headers = [("ce_id", f"{tag}-{i}".encode()), ("h", b"")] if i % 2 else []
            await self.producer.send_and_wait(topic, f'{{"{tag}":{i}}}'.encode(), key=key,
                                              partition=partition, headers=headers)

    async def alarm(self, alarms: Sequence[Alarm]) -> None:
        await raise_alarms(self.settings, alarms, registry=self.registry)

    def checkpointer(self, **options: object) -> Checkpointer:
        async def registry() -> Registry:
            return self.registry

        return Checkpointer(self.kafka, self.platform, topics=self.data,
                            checkpoints_topic=self.checkpoints, refusals_topic=self.refusals,
                            timeout_s=15.0, alarm=self.alarm, registry=registry,
                            **options)  # type: ignore[arg-type]

    def witness(self, key: PrivateKey) -> Witness:
        return Witness(self.kafka, key, platform_keys=[self.platform.public_key],
                       state_dir=self.state_dir, checkpoints_topic=self.checkpoints,
                       cosignatures_topic=self.cosignatures, refusals_topic=self.refusals,
                       timeout_s=15.0)

    async def alerts_of(self, org: str) -> list[AlertRaised]:
        """The platform-signed alerts on ``org``'s topic about this test's logs."""
        verifier = AlertVerifier([self.platform.public_key], PLATFORM_ORG)
        out = []
        for rec in await read_all(self.kafka, alerts_topic(org)):
            try:
                env = verifier.check(rec.key, rec.value, rec.headers, org)
            except Exception:  # noqa: BLE001 - other tests' alerts on the platform topic
                continue
            assert isinstance(env.data, AlertRaised)
            if any(env.data.about.startswith(f"emining/{t}/") for t in self.data):
                out.append(env.data)
        return out


def _onboard(registry: Registry, org: str, side: Side, role: Role, key: PrivateKey,
             at: datetime) -> None:
    registry.apply(OrganisationOnboarded(org_id=org, names=Names(en=org), side=side, role=role),
                   at)
    registry.apply(KeyAdded(org_id=org, keyid=Verifier(key.public_key).keyid,
                            public_key=b64(key.public_key), valid_from=at), at)


@pytest.fixture
async def world(kafka_access: KafkaAccess, tmp_path: Path,
                create_topic: Callable[..., Awaitable[str]]) -> AsyncIterator[World]:
    data = [await create_topic(3), await create_topic(1)]
    checkpoints, cosignatures, refusals = [await create_topic(1) for _ in range(3)]
    slug = "t" + uuid.uuid4().hex[:10]
    pk_org, cn_org = f"urn:emining:pk:gov:{slug}-witness", f"urn:emining:cn:ent:{slug}-witness"
    platform = PrivateKey.generate(PLATFORM_ORG)
    pk, cn = PrivateKey.generate(pk_org), PrivateKey.generate(cn_org)
    registry = Registry()
    at = datetime.now(UTC) - timedelta(minutes=1)
    _onboard(registry, pk_org, Side.PK, Role.AGENCY, pk, at)
    _onboard(registry, cn_org, Side.CN, Role.FIRM, cn, at)
    settings = settings_for(kafka_access, state_dir=tmp_path / "state")
    write_key(platform, settings.operator_key_path)
    producer = AIOKafkaProducer(**kafka_access.aiokafka(), enable_idempotence=True, acks="all")
    await producer.start()
    made = World(kafka_access, settings, data, checkpoints, cosignatures, refusals, platform,
                 pk, cn, registry, tmp_path / "witness-state", producer)
    try:
        yield made
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(**kafka_access.aiokafka())
        await admin.start()
        try:
            await admin.delete_topics([alerts_topic(pk_org), alerts_topic(cn_org)])
        except Exception:  # noqa: BLE001 - absent when no alert was raised
            pass
        finally:
            await admin.close()
