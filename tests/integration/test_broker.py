"""Proof the broker is real: key order, exactly-once reads, committed offsets, durable restarts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import TopicPartition
from typer.testing import CliRunner

from infra import local_kafka
from infra.kafka_admin.topics import apply_topics, describe_topics
from infra.kafka_settings import kafka_access as access_of
from infra.logging import configure_logging
from schemas.alerts import PLATFORM_ORG
from schemas.topics import (
    DLQ,
    PARTICIPANTS,
    SHARED_TOPICS,
    TLOG_TOPICS,
    TopicSpec,
    alerts_topic,
    catalogue,
)
from tests.conftest import own_broker
from tests.kafka_support import access_env, settings_for
from transport.access import diagnose, login_error
from transport.clients import make_consumer, make_producer, started

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from pathlib import Path

    from infra.settings import Settings
    from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

KEYS = [f"key-{k}" for k in range(10)]
PER_KEY = 30


def consumer_for(settings: Settings, *topics: str, group_id: str | None) -> Any:
    """``transport``'s consumer for the broker and principal of ``settings``."""
    return make_consumer(access_of(settings), settings.client_timeout_s, *topics,
                         group_id=group_id)


async def produce(settings: Settings, topic: str, records: list[tuple[str, str]]) -> list[Any]:
    """Send ``(key, value)`` records with an idempotent acks=all producer; all acked."""
    producer = make_producer(access_of(settings), settings.client_timeout_s)
    async with started(producer):
        futures = [
            await producer.send(topic, value.encode(), key=key.encode()) for key, value in records
        ]
        sent = list(await asyncio.gather(*futures))
        # Idempotence is real only if the broker handed out a producer id (InitProducerId).
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
    return sent


async def consume(consumer: Any, expected: int, *, settle_s: float = 1.0) -> list[Any]:
    """Read until ``expected`` records arrived, then keep polling ``settle_s`` for extras."""
    records: list[Any] = []
    async with asyncio.timeout(60):
        while len(records) < expected:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    extra = await consumer.getmany(timeout_ms=int(settle_s * 1000))
    records.extend(record for batch in extra.values() for record in batch)
    return records


def interleaved_records() -> list[tuple[str, str]]:
    return [(key, f"{key}:{i}") for i in range(PER_KEY) for key in KEYS]


async def test_keyed_records_arrive_once_and_in_key_order(
    kafka_settings: Settings, create_topic: Callable[..., Awaitable[str]], group_id: str
) -> None:
    topic = await create_topic(partitions=3)
    sent = await produce(kafka_settings, topic, interleaved_records())
    assert len(sent) == len(KEYS) * PER_KEY
    assert {meta.partition for meta in sent} == {0, 1, 2}, "10 keys should spread over 3"

    consumer = consumer_for(kafka_settings, topic, group_id=group_id)
    async with started(consumer):
        records = await consume(consumer, len(sent))

    by_key: dict[str, list[str]] = defaultdict(list)
    partition_of_key: dict[str, set[int]] = defaultdict(set)
    for record in records:
        by_key[record.key.decode()].append(record.value.decode())
        partition_of_key[record.key.decode()].add(record.partition)
    assert len(records) == len(KEYS) * PER_KEY
    assert by_key == {key: [f"{key}:{i}" for i in range(PER_KEY)] for key in KEYS}
    assert all(len(parts) == 1 for parts in partition_of_key.values())


async def test_committed_offsets_survive_a_consumer_restart(
    kafka_settings: Settings, create_topic: Callable[..., Awaitable[str]], group_id: str
) -> None:
    topic = await create_topic(partitions=3)
    sent = await produce(kafka_settings, topic, interleaved_records())
    done_below = 5  # the first consumer processes offsets 0-4 of every partition, then stops

    first = consumer_for(kafka_settings, topic, group_id=group_id)
    async with started(first):
        fetched = await consume(first, len(sent), settle_s=0.2)
        processed = [r for r in fetched if r.offset < done_below]
        await first.commit({TopicPartition(topic, p): done_below for p in range(3)})

    second = consumer_for(kafka_settings, topic, group_id=group_id)
    async with started(second):
        resumed = await consume(second, len(sent) - len(processed))

    sent_by_position = {(meta.partition, meta.offset) for meta in sent}
    assert len(processed) == 3 * done_below
    assert {(r.partition, r.offset) for r in resumed} == {
        pos for pos in sent_by_position if pos[1] >= done_below
    }
    assert len(resumed) == len(sent) - 3 * done_below  # nothing twice, nothing before the commit
    values = [r.value.decode() for r in processed + resumed]
    assert sorted(values) == sorted(value for _, value in interleaved_records())


# --------------------------------------------------------------------------- private broker


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A second project broker in its own state dir, for tests that stop and restart it."""
    with own_broker(tmp_path_factory.mktemp("kafka-private")) as settings:
        yield settings


def client_settings(broker: Settings) -> Settings:
    """Settings of a client of ``broker`` (as its admin), pointed at its address explicitly."""
    return settings_for(access_of(broker))


async def test_down_then_up_keeps_the_data(private_broker: Settings) -> None:
    before = await asyncio.to_thread(local_kafka.status, private_broker)
    assert before.running
    assert before.ready
    topic = "test.durable.records"
    assert before.bootstrap is not None
    access = access_of(private_broker)
    await apply_topics(access, [TopicSpec(topic, 2)])
    records = [(f"k{i % 4}", f"durable-{i}") for i in range(50)]
    await produce(client_settings(private_broker), topic, records)

    stopped = await asyncio.to_thread(local_kafka.down, private_broker)
    assert not stopped.running
    assert stopped.bootstrap is None
    assert not local_kafka.is_ready(access, timeout_s=1.0)

    again = await asyncio.to_thread(local_kafka.up, private_broker, owner_pid=os.getpid())
    assert again.running
    assert again.bootstrap == before.bootstrap, "ports are persisted in the state dir"
    assert again.pid != before.pid

    consumer = consumer_for(client_settings(private_broker), topic, group_id=None)
    async with started(consumer):
        read = await consume(consumer, len(records))
    assert sorted(r.value.decode() for r in read) == sorted(value for _, value in records)


def invoke(args: list[str], env: dict[str, str | None]) -> Any:
    """Run the real ``emining`` CLI in-process; stdout and stderr are kept apart."""
    # Imported here so a broken sibling command breaks only the CLI tests, not this module.
    from infra.cli import app  # noqa: PLC0415

    result = CliRunner().invoke(app, args, env=env)
    # The CLI's callback bound structlog to the runner's (now closed) stderr: rebind it.
    configure_logging("warning")
    return result


def private_env(broker: Settings, **extra: str | None) -> dict[str, str | None]:
    return {"EMINING_STATE_DIR": str(broker.state_dir), "EMINING_KAFKA_BOOTSTRAP": None, **extra}


async def test_topics_apply_creates_the_catalogue_and_is_idempotent(
    private_broker: Settings,
) -> None:
    env = private_env(private_broker, EMINING_TOPIC_PARTITIONS="4")
    first = await asyncio.to_thread(invoke, ["topics", "apply", "--json"], env)
    assert first.exit_code == 0, first.stderr
    changes = {c["topic"]: c for c in json.loads(first.stdout)}
    wanted = catalogue(4)
    # plus one alerts topic per registered organisation: on a fresh log, only the platform's
    platform_alerts = alerts_topic(PLATFORM_ORG)
    assert set(changes) == {spec.name for spec in wanted} | {platform_alerts}
    assert {c["action"] for c in changes.values()} == {"created"}

    topics = await describe_topics(access_of(private_broker), [spec.name for spec in wanted])
    assert {name: info.partitions for name, info in topics.items()} == {
        **dict.fromkeys(SHARED_TOPICS, 4), PARTICIPANTS: 1, DLQ: 3,
        **dict.fromkeys(TLOG_TOPICS, 1),
    }
    for name in (*SHARED_TOPICS, *TLOG_TOPICS):
        assert topics[name].config["retention.ms"] == "-1"
        assert topics[name].config["retention.bytes"] == "-1"

    second = await asyncio.to_thread(invoke, ["topics", "apply", "--json"], env)
    assert second.exit_code == 0, second.stderr
    again = json.loads(second.stdout)
    assert [c["action"] for c in again] == ["unchanged"] * (len(wanted) + 1)
    assert all(not c["config_changes"] and not c["warnings"] for c in again)

    human = await asyncio.to_thread(invoke, ["topics", "apply"], env)
    assert human.exit_code == 0, human.stderr
    assert "no changes" in human.stderr
    assert "emining.projects.v1" in human.stdout


async def test_kafka_status_json(
    private_broker: Settings, kafka_access: KafkaAccess, tmp_path: Path
) -> None:
    running = await asyncio.to_thread(invoke, ["kafka", "status", "--json"],
                                      private_env(private_broker))
    assert running.exit_code == 0, running.stderr
    found = json.loads(running.stdout)
    assert found["running"] is True
    assert found["bootstrap"] == client_settings(private_broker).kafka_bootstrap
    assert isinstance(found["pid"], int)

    never_started = await asyncio.to_thread(
        invoke, ["kafka", "status", "--json"],
        {"EMINING_STATE_DIR": str(tmp_path / "nothing"), "EMINING_KAFKA_BOOTSTRAP": None},
    )
    assert never_started.exit_code == 0, never_started.stderr
    assert json.loads(never_started.stdout)["running"] is False
    assert json.loads(never_started.stdout)["bootstrap"] is None

    external = await asyncio.to_thread(
        invoke, ["kafka", "status", "--json"], {**access_env(kafka_access)}
    )
    assert external.exit_code == 0, external.stderr
    assert json.loads(external.stdout)["running"] is True
    assert json.loads(external.stdout)["bootstrap"] == kafka_access.bootstrap
    assert json.loads(external.stdout)["external"] is True


def test_topics_apply_without_a_broker_is_one_clear_error(tmp_path: Path) -> None:
    result = invoke(
        ["topics", "apply"],
        {"EMINING_STATE_DIR": str(tmp_path / "none"), "EMINING_KAFKA_BOOTSTRAP": None},
    )
    assert result.exit_code == 1
    assert "no broker: run `emining kafka up` or set EMINING_KAFKA_BOOTSTRAP" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A project broker with ``EMINING_KAFKA_SECURITY=scram-tls`` (certificates made at start)."""
    with own_broker(tmp_path_factory.mktemp("kafka-tls"), "scram-tls", "TLS") as settings:
        yield settings


async def test_tls_mode_carries_records_over_sasl_ssl_verified_by_the_local_ca(
    tls_broker: Settings, tmp_path: Path
) -> None:
    access = access_of(tls_broker)
    assert access.protocol == "SASL_SSL"
    assert access.ca_file == local_kafka.Layout.of(tls_broker).tls_dir / "ca.pem"
    topic = "test.tls.records"
    await apply_topics(access, [TopicSpec(topic, 1)])
    sent = await produce(client_settings(tls_broker), topic, [("k", "over tls")])
    assert len(sent) == 1
    consumer = consumer_for(client_settings(tls_broker), topic, group_id=None)
    async with started(consumer):
        read = await consume(consumer, 1, settle_s=0.2)
    assert [r.value for r in read] == [b"over tls"]

    # A client trusting another CA refuses the broker's certificate: TLS is really verified.
    other = tmp_path / "other-ca"
    proc = await asyncio.create_subprocess_exec(
        "bash", str(local_kafka.MAKE_CERTS), str(other), stdout=asyncio.subprocess.DEVNULL)
    assert await proc.wait() == 0
    stranger = dataclasses.replace(access, ca_file=other / "ca.pem")
    error = await asyncio.to_thread(login_error, stranger, 5.0)
    assert error is not None
    assert error.name() == "_SSL"
    reason = await asyncio.to_thread(diagnose, stranger, 5.0)
    assert reason is not None
    assert "TLS" in reason
    assert "certificate verify failed" in reason

    # and plaintext SASL to the TLS listener does not get through
    assert not await asyncio.to_thread(
        local_kafka.is_ready, dataclasses.replace(access, protocol="SASL_PLAINTEXT"), 2.0)
