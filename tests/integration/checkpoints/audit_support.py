"""Helpers of the audit's checkpoint tests: a topic set with its checkpoint topics, a history
checkpointed and cosigned, and tampering as an operator with admin rights could do it (delete a
topic and recreate it with other records, append a forged checkpoint)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError

from consumers.audit.records import AuditTopics, RawRecord
from consumers.audit.snapshot import LogReader
from consumers.checkpoints.checkpointer import Checkpointer
from consumers.checkpoints.witness import Witness
from schemas import tlog
from schemas.registry import Registry
from schemas.signing import PrivateKey
from tests.integration.kafka_admin import create_topics, delete_topics, kafka_admin
from tests.unit.audit import parties as pa
from transport.access import KafkaAccess

SHARED_PARTITIONS = 3
PK_WITNESS, CN_WITNESS = pa.PSW, pa.FIRM_A
"""The witnesses of the tests: an agency of Pakistan, a Chinese firm (both in the registry)."""


def new_topics() -> AuditTopics:
    tag = uuid.uuid4().hex[:10]
    return AuditTopics(projects=f"test.ckaudit.{tag}.projects",
                       approvals=f"test.ckaudit.{tag}.approvals",
                       shipments=f"test.ckaudit.{tag}.shipments",
                       participants=f"test.ckaudit.{tag}.participants",
                       checkpoints=f"test.ckaudit.{tag}.checkpoints",
                       cosignatures=f"test.ckaudit.{tag}.cosignatures",
                       refusals=f"test.ckaudit.{tag}.refusals")


def refusals_of(topics: AuditTopics) -> str:
    """The witnesses' refusals topic of a test topic set."""
    return topics.refusals


async def create_all(kafka: KafkaAccess, topics: AuditTopics) -> None:
    await create_topics(kafka, [NewTopic(t, SHARED_PARTITIONS, 1) for t in topics.shared]
                        + [NewTopic(t, 1, 1) for t in (topics.participants, topics.checkpoints,
                                                       topics.cosignatures, refusals_of(topics))])


async def drop_all(kafka: KafkaAccess, topics: AuditTopics) -> None:
    await delete_topics(kafka, [*topics.all, topics.checkpoints, topics.cosignatures,
                                refusals_of(topics)])


async def checkpoint_and_witness(kafka: KafkaAccess, topics: AuditTopics, parties: pa.Parties,
                                 state_dir: Path,
                                 witnesses: tuple[str, ...] = (PK_WITNESS, CN_WITNESS),
                                 ) -> dict[tuple[str, int], int]:
    """The platform's checkpointer and the witnesses, each ``--once`` (part 1's classes, on the
    test's topics); the size of each log's newest checkpoint."""

    async def registry() -> Registry:
        return parties.registry()

    checkpointer = Checkpointer(kafka, parties.operator, topics=topics.all,
                                checkpoints_topic=topics.checkpoints,
                                refusals_topic=refusals_of(topics), timeout_s=15.0,
                                registry=registry)
    await checkpointer.run(once=True)
    assert not checkpointer.halted, checkpointer.halted
    await witness_once(kafka, topics, parties, state_dir, witnesses)
    return {tlog.parse_origin(origin): head.size
            for origin, head in checkpointer.published.items()}


async def witness_once(kafka: KafkaAccess, topics: AuditTopics, parties: pa.Parties,
                       state_dir: Path, witnesses: tuple[str, ...] = (PK_WITNESS, CN_WITNESS),
                       ) -> int:
    """Each witness ``--once`` on the test's topics; how many checkpoints they refused."""
    refused = 0
    for org in witnesses:
        witness = Witness(kafka, parties.keys[org], platform_keys=[parties.operator.public_key],
                          state_dir=state_dir, checkpoints_topic=topics.checkpoints,
                          cosignatures_topic=topics.cosignatures,
                          refusals_topic=refusals_of(topics), timeout_s=15.0)
        before = witness.state.refused
        await witness.run(once=True)
        refused += witness.state.refused - before
    return refused


def topic_args(topics: AuditTopics) -> list[str]:
    out: list[str] = []
    for role in ("projects", "approvals", "shipments", "participants", "checkpoints",
                 "cosignatures", "refusals"):
        out += ["--topic", f"{role}={getattr(topics, role)}"]
    return out


async def read_topic(kafka: KafkaAccess, topic: str) -> dict[int, list[RawRecord]]:
    """Every record of ``topic`` per partition, in offset order."""
    out: dict[int, list[RawRecord]] = {}
    async with LogReader(kafka) as reader:
        snap = await reader.snapshot([topic])
        for (_, partition) in snap.end:
            out.setdefault(partition, [])
        async for batch in reader.read(snap, [topic]):
            for r in batch:
                out[r.partition].append(r)
    for records in out.values():
        records.sort(key=lambda r: r.offset)
    return out


Edit = Callable[[dict[int, list[RawRecord]]], dict[int, list[RawRecord]]]


async def recreate(kafka: KafkaAccess, topic: str, edit: Edit) -> dict[int, list[RawRecord]]:
    """Delete ``topic`` and create it again (same partitions, ``CreateTime``) holding ``edit``
    of its records, each with its key, value, headers and timestamp; returns the old records."""
    old = await read_topic(kafka, topic)
    new = edit({p: list(rs) for p, rs in old.items()})
    await delete_topics(kafka, [topic])
    for _ in range(100):  # deletion is asynchronous: the name is free once it is done
        async with kafka_admin(kafka) as admin:
            answer = await admin.create_topics([NewTopic(topic, len(old), 1, topic_configs={
                "message.timestamp.type": "CreateTime"})])
        errors = [e for e in answer.to_object()["topic_errors"] if e["error_code"]]
        if not errors:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"{topic} could not be recreated: {errors}")
    producer = AIOKafkaProducer(**kafka.aiokafka(), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for partition, records in sorted(new.items()):
            for r in records:
                await _send(producer, topic, partition, r)
    finally:
        await producer.stop()
    return old


async def _send(producer: AIOKafkaProducer, topic: str, partition: int, r: RawRecord) -> None:
    for attempt in range(50):  # the new topic's leader may take a moment to be elected
        try:
            await producer.send_and_wait(topic, r.value, key=r.key, partition=partition,
                                         timestamp_ms=r.timestamp_ms, headers=list(r.headers))
        except KafkaError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.2)
        else:
            return


class StandIn:
    """Publishes checkpoints and cosignatures in the records' format (``schemas.checkpoints``):
    what a misbehaving platform or a forger would append."""

    def __init__(self, kafka: KafkaAccess, topics: AuditTopics, parties: pa.Parties) -> None:
        self.kafka, self.topics, self.parties = kafka, topics, parties
        self.first: dict[tuple[str, int], int] = {}
        self.sizes: dict[tuple[str, int], int] = {}
        """What a test keeps of the checkpointer's rounds: the newest size of each log."""

    async def checkpoint(self, topic: str, partition: int, size: int, root: bytes, *,
                         previous_size: int | None, proof: list[bytes],
                         key: PrivateKey | None = None) -> None:
        origin = tlog.origin_for(topic, partition)
        note = tlog.sign_checkpoint(tlog.Checkpoint(origin, size, root),
                                    (key or self.parties.operator).seed)
        value = {"note": note, "time": int(time.time()), "previous_size": previous_size,
                 "consistency": [base64.b64encode(p).decode() for p in proof]}
        await self._send(self.topics.checkpoints, origin, value)

    async def cosign(self, topic: str, partition: int, size: int, root: bytes, org: str
                     ) -> None:
        origin = tlog.origin_for(topic, partition)
        name = f"emining-witness/{org}"
        line = tlog.cosign(tlog.Checkpoint(origin, size, root), name,
                           self.parties.keys[org].seed, int(time.time()))
        await self._send(self.topics.cosignatures, origin, {
            "origin": origin, "size": size, "root": base64.b64encode(root).decode(),
            "witness": org, "key_name": name, "line": line})

    async def _send(self, topic: str, origin: str, value: dict[str, object]) -> None:
        producer = AIOKafkaProducer(**self.kafka.aiokafka(), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, json.dumps(value).encode(),
                                         key=origin.encode())
        finally:
            await producer.stop()


def without_checkpoints(topics: AuditTopics) -> AuditTopics:
    return replace(topics, checkpoints=f"{topics.checkpoints}.absent",
                   cosignatures=f"{topics.cosignatures}.absent",
                   refusals=f"{topics.refusals}.absent")
