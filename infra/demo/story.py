"""A short signed story through the real SDK, read back and verified from the log."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra import wiring
from infra.demo.setup import Deployment
from infra.settings import Settings
from producers.kafka_meta import partitions_of
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.envelope import from_record
from schemas.errors import ContractError
from schemas.topics import SHARED_TOPICS
from schemas.verify import EnvelopeVerifier

FIRM = "urn:emining:cn:ent:mcc-resources"
BA_MMDD = "urn:emining:pk:gov:ba-mmdd"
SD_MMD = "urn:emining:pk:gov:sd-mmd"

STEPS: tuple[tuple[str, str, datetime], ...] = (
    (FIRM, "pk.emining.project.registered", datetime(2025, 10, 1, 8, tzinfo=UTC)),
    (FIRM, "pk.emining.approval.licence.application.received",
     datetime(2025, 11, 3, 5, 12, 40, tzinfo=UTC)),
    (BA_MMDD, "pk.emining.approval.licence.deficiency.notified",
     datetime(2025, 11, 20, 10, tzinfo=UTC)),
    (FIRM, "pk.emining.approval.licence.application.resubmitted",
     datetime(2025, 12, 15, 9, 30, tzinfo=UTC)),
    (BA_MMDD, "pk.emining.approval.licence.granted", datetime(2026, 2, 1, 11, tzinfo=UTC)),
    (FIRM, "pk.emining.shipment.planned", datetime(2026, 3, 1, 7, tzinfo=UTC)),
)
"""Who says what, when: the examples of the contract tell one coherent story."""


@dataclass(frozen=True, slots=True)
class Line:
    org: str
    type: str
    subject: str
    where: str
    outcome: str


async def publish_story(settings: Settings, dep: Deployment) -> list[Line]:
    """Publish the story in order (once: a re-run finds the chains started) and one refusal."""
    lines: list[Line] = []
    async with AsyncExitStack() as stack:
        pubs = {org: await stack.enter_async_context(
                    wiring.publisher(settings, dep.keys[org], "demo", dep.registry))
                for org in (FIRM, BA_MMDD, SD_MMD)}
        if any(pubs[org].chain_head().sequence > 0 for org in (FIRM, BA_MMDD)):
            return [Line(org, t.removeprefix("pk.emining."), "", "", "already on the log")
                    for org, t, _ in STEPS]
        for org, type_name, at in STEPS:
            model = model_for(type_name)
            result = await pubs[org].publish(model.model_validate(model.EXAMPLE), time=at)
            lines.append(Line(org, type_name, result_subject(model),
                              f"{result.topic}[{result.partition}]@{result.offset}",
                              f"published, seq {result.sequence}"))
        # Sindh's licensing authority tries to grant a Balochistan title: refused before Kafka.
        granted = model_for("pk.emining.approval.licence.granted")
        try:
            await pubs[SD_MMD].publish(granted.model_validate(granted.EXAMPLE))
            outcome = "published (unexpected!)"
        except ContractError as exc:
            outcome = f"refused: {exc}"
        lines.append(Line(SD_MMD, granted.TYPE, str(granted.EXAMPLE["title_number"]), "-",
                          outcome))
    return lines


def result_subject(model: type[EventData]) -> str:
    return str(model.EXAMPLE[model.SUBJECT_FIELD])


async def read_back(settings: Settings, dep: Deployment) -> dict[str, Any]:
    """Every record of the shared topics, parsed and verified against the registry."""
    verifier = EnvelopeVerifier(dep.registry, wiring.trust_anchor(settings))
    consumer = AIOKafkaConsumer(bootstrap_servers=dep.bootstrap, enable_auto_commit=False)
    await consumer.start()
    counts = {"records": 0, "verified": 0, "rejected": 0}
    reasons: list[str] = []
    try:
        tps = [TopicPartition(topic, p) for topic in SHARED_TOPICS
               for p in await partitions_of(dep.bootstrap, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            for tp, batch in (await consumer.getmany(timeout_ms=1000)).items():
                for rec in batch:
                    counts["records"] += 1
                    try:
                        verifier.check(from_record(rec.key, rec.value, rec.headers))
                        counts["verified"] += 1
                    except ContractError as exc:
                        counts["rejected"] += 1
                        reasons.append(f"{tp.topic}[{tp.partition}]@{rec.offset}: {exc}")
                if batch and batch[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return {**counts, "reasons": reasons}
