"""Re-authentication: valid sessions survive it, a rotated password's sessions do not.

aiokafka cannot re-authenticate (KIP-368): at ``connections.max.reauth.ms`` the broker closes
the connection and the client logs in again with what it has. A module-private broker with a
3-second interval shows both sides of that in seconds instead of the production hour.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import KafkaError, Producer

from infra.kafka_admin.acls import org_acls, org_principal
from infra.kafka_admin.admin import apply_acls, upsert_credential
from infra.kafka_admin.topics import apply_topics
from infra.kafka_settings import kafka_access
from schemas.alerts import alerts_topic_spec
from schemas.common import Role
from schemas.topics import PROJECTS, alerts_topic, catalogue
from tests.conftest import own_broker
from transport.access import login_error

if TYPE_CHECKING:
    from collections.abc import Iterator

    from infra.settings import Settings

pytestmark = pytest.mark.integration

REAUTH_S = 3.0
ORG = "urn:emining:cn:ent:reauth-test"


@pytest.fixture(scope="module")
def short_reauth_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    with own_broker(tmp_path_factory.mktemp("kafka-reauth"), what="short re-auth",
                    kafka_reauth_s=REAUTH_S) as settings:
        yield settings


async def test_sessions_outlive_reauthentication_only_with_a_current_password(
    short_reauth_broker: Settings,
) -> None:
    admin = kafka_access(short_reauth_broker)
    await apply_topics(admin, [*catalogue(1), alerts_topic_spec(ORG)])
    first = admin.as_user(ORG, await upsert_credential(admin, ORG))
    await apply_acls(admin, org_acls(ORG, Role.FIRM), only={org_principal(ORG)})

    # 1. aiokafka, which cannot re-authenticate, rides through the broker closing its sessions:
    # the firm publishes to a shared topic and follows its own alerts topic (what it may read).
    producer = AIOKafkaProducer(**first.aiokafka(), enable_idempotence=True,
                                request_timeout_ms=5000)
    consumer = AIOKafkaConsumer(alerts_topic(ORG), **first.aiokafka(), group_id=f"{ORG}.reauth",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    platform = AIOKafkaProducer(**admin.aiokafka())
    await producer.start()
    await consumer.start()
    await platform.start()
    try:
        await producer.send_and_wait(PROJECTS, b"published before", key=b"k")
        await platform.send_and_wait(alerts_topic(ORG), b"before", key=b"k")
        await asyncio.sleep(REAUTH_S + 2)  # past the deadline: the broker closed both sessions
        await producer.send_and_wait(PROJECTS, b"published after", key=b"k")  # logged in again
        await platform.send_and_wait(alerts_topic(ORG), b"after", key=b"k")
        read: list[bytes] = []
        async with asyncio.timeout(15):
            while len(read) < 2:
                batches = await consumer.getmany(timeout_ms=1000)
                read += [r.value for rs in batches.values() for r in rs]
        assert read == [b"before", b"after"]
        await consumer.commit()  # the group session survived too
    finally:
        await producer.stop()
        await consumer.stop()
        await platform.stop()

    # 2. A session opened before a rotation works until its next re-authentication, then
    # the broker refuses it. librdkafka re-authenticates in place (KIP-368), so the open
    # session itself is what is refused; an aiokafka client would retry its login forever.
    errors: list[KafkaError] = []
    session = Producer({**first.librdkafka(), "log_level": 0, "error_cb": errors.append,
                        "message.timeout.ms": 6000})
    assert await asyncio.to_thread(_deliver, session, b"opened before the rotation") is None
    second = first.as_user(ORG, await upsert_credential(admin, ORG))
    assert await asyncio.to_thread(_deliver, session, b"right after the rotation") is None
    await asyncio.sleep(REAUTH_S + 2)
    failed = await asyncio.to_thread(_deliver, session, b"after its re-authentication")
    assert failed is not None
    assert "_AUTHENTICATION" in {e.name() for e in errors}, errors
    refused = await asyncio.to_thread(login_error, first)
    assert refused is not None
    assert refused.name() == "_AUTHENTICATION"
    assert await asyncio.to_thread(login_error, second) is None


def _deliver(producer: Producer, value: bytes) -> str | None:
    """Produce one record and wait for its delivery report: None, or the error's name."""
    outcome: list[str | None] = []
    producer.produce(PROJECTS, value, key=b"k",
                     on_delivery=lambda err, _msg: outcome.append(err and err.name()))
    producer.flush(10)
    producer.poll(0.5)  # error callbacks
    assert outcome, "no delivery report within the message timeout"
    return outcome[0]
