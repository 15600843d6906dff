"""`emining kafka up --brokers 3`: three processes, one quorum, durable topics, SCRAM clients."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra import local_kafka
from infra.kafka_admin.topics import describe_topics
from infra.kafka_settings import kafka_access
from schemas.topics import PROJECTS

if TYPE_CHECKING:
    from infra.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]


def emining(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMINING_KAFKA_")}
    env |= {"EMINING_STATE_DIR": str(settings.state_dir), "EMINING_KAFKA_SECURITY": "scram"}
    return subprocess.run(
        [sys.executable, "-c", "from infra.cli import main; main()", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120, check=False)


def test_status_lists_three_live_nodes_and_the_active_controller(cluster: Settings) -> None:
    done = emining(cluster, "kafka", "status", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert (found["running"], found["ready"], found["brokers"]) == (True, True, 3)
    nodes = found["nodes"]
    assert [n["node_id"] for n in nodes] == [1, 2, 3]
    assert all(n["alive"] and n["roles"] == ["broker", "controller"] for n in nodes)
    pids = {n["pid"] for n in nodes}
    assert len(pids) == 3, "each node its own process"
    for node in nodes:
        cmdline = Path(f"/proc/{node['pid']}/cmdline").read_bytes().split(b"\0")
        assert b"kafka.Kafka" in cmdline
    ports = [p for n in nodes for p in (n["broker_port"], n["controller_port"])]
    assert len(set(ports)) == 6
    assert found["bootstrap"] == ",".join(f"127.0.0.1:{n['broker_port']}" for n in nodes)
    leaders = [n["node_id"] for n in nodes if n["active_controller"]]
    assert leaders == [found["active_controller"]]
    # The quorum's own word: every live voter's persisted election state names that leader.
    layout = local_kafka.Layout.of(cluster)
    for node in nodes:
        state = json.loads((layout.for_node(node["node_id"]).data_dir
                            / "__cluster_metadata-0" / "quorum-state").read_text())
        assert state["leaderId"] == found["active_controller"]
    # Metadata lists the three brokers, each at the port status names for it.
    brokers = local_kafka.describe_brokers(kafka_access(cluster), 10.0)
    assert brokers == {n["node_id"]: f"127.0.0.1:{n['broker_port']}" for n in nodes}


def test_topics_apply_keeps_three_copies_two_in_sync_and_says_so(cluster: Settings) -> None:
    done = emining(cluster, "topics", "apply", "--json")
    assert done.returncode == 0, done.stderr
    changes = json.loads(done.stdout)
    assert {c["topic"] for c in changes} >= {PROJECTS}
    for change in changes:
        assert change["applied"] == {"brokers": 3, "replication": 3,
                                     "min.insync.replicas": "2",
                                     "unclean.leader.election.enable": "false"}
    again = emining(cluster, "topics", "apply")
    assert again.returncode == 0, again.stderr
    assert ("applied: replication factor 3 (3 live broker(s)), min.insync.replicas=2,"
            " unclean.leader.election.enable=false") in " ".join(again.stderr.split())
    # What the cluster itself says (DescribeTopics + DescribeConfigs), not what we asked for.
    topics = asyncio.run(describe_topics(kafka_access(cluster), [c["topic"] for c in changes]))
    for info in topics.values():
        assert info.replication == 3, info
        assert info.config["min.insync.replicas"] == "2", info
        assert info.config["unclean.leader.election.enable"] == "false", info


async def test_a_scram_client_round_trips_through_the_cluster(cluster: Settings) -> None:
    access = kafka_access(cluster)
    assert access.protocol == "SASL_PLAINTEXT"
    assert access.username == local_kafka.ADMIN
    topic = PROJECTS
    marker = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(**access.aiokafka(), enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, marker, key=marker)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, sent.partition)
        consumer.assign([tp])
        consumer.seek(tp, sent.offset)
        async with asyncio.timeout(30):
            records = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
    finally:
        await consumer.stop()
    assert records
    assert records[0].value == marker
    # Three replicas of that partition, all in sync.
    admin_view = await _partition(access, topic, sent.partition)
    assert sorted(admin_view["replicas"]) == [1, 2, 3]
    assert sorted(admin_view["isr"]) == [1, 2, 3]


async def _partition(access: object, topic: str, partition: int) -> dict[str, list[int]]:
    from transport.clients import admin_client  # noqa: PLC0415

    async with admin_client(access, 15.0) as client:  # type: ignore[arg-type]
        [meta] = await client.describe_topics([topic])
    [part] = [p for p in meta["partitions"] if p["partition"] == partition]
    return {"replicas": part["replicas"], "isr": part["isr"]}
