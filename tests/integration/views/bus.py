"""Publishing a scenario through the SDK to a test's own topics (tests and the benchmark)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer

from consumers.config import ViewTopics
from producers.publisher import Draft, Publisher
from schemas.envelope import KafkaRecord
from schemas.topics import APPROVALS, DLQ, PARTICIPANTS, PROJECTS, SHIPMENTS
from tests.integration.views import scenario
from transport.access import KafkaAccess
from transport.sender import Ack, RecordSender


def renames(topics: ViewTopics) -> dict[str, str]:
    return {PROJECTS: topics.projects, APPROVALS: topics.approvals, SHIPMENTS: topics.shipments,
            PARTICIPANTS: topics.participants, DLQ: topics.dlq}


class RenamingSender(RecordSender):
    """Sends the catalogue's records to a test's own topics, leaving the events untouched."""

    def __init__(self, kafka: KafkaAccess, names: dict[str, str]) -> None:
        super().__init__(kafka, timeout_s=30.0)
        self._names = names

    async def send(self, records: Sequence[KafkaRecord],
                   results: list[Ack | str | None] | None = None) -> list[Ack | str]:
        return await super().send([r._replace(topic=self._names[r.topic]) for r in records],
                                  results)


class Bus:
    """Publishes as the scenario's organisations, through the SDK, to a test's topics."""

    def __init__(self, kafka: KafkaAccess, topics: ViewTopics, state_dir: Path) -> None:
        self.kafka, self.topics, self._state_dir = kafka, topics, state_dir
        self._sender = RenamingSender(kafka, renames(topics))
        self._publishers: dict[str, Publisher] = {}

    async def __aenter__(self) -> Bus:
        await self._sender.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for publisher in self._publishers.values():
            await publisher.stop()
        await self._sender.stop()

    async def publisher(self, org: str) -> Publisher:
        if org not in self._publishers:
            publisher = Publisher(key=scenario.key_of(org), source=f"{org}/views-test",
                                  state_dir=self._state_dir, sender=self._sender)
            await publisher.start()
            self._publishers[org] = publisher
        return self._publishers[org]

    async def registry(self) -> None:
        operator = await self.publisher(scenario.PLATFORM)
        await operator.publish_many([Draft(e, time=scenario.REGISTRY_FROM)
                                     for e in scenario.registry_events()])

    async def rounds(self, rounds: list[list[scenario.Step]]) -> int:
        """Publish round after round, organisations in parallel within a round."""
        count = 0
        for steps in rounds:
            by_org: dict[str, list[Draft]] = {}
            for step in steps:
                by_org.setdefault(step.org, []).append(step.draft)
            publishers = {org: await self.publisher(org) for org in by_org}
            await asyncio.gather(*(publishers[o].publish_many(d) for o, d in by_org.items()))
            count += len(steps)
        return count

    async def raw(self, topic: str, value: bytes | None, *, key: bytes | None = None,
                  headers: list[tuple[str, bytes | None]] | None = None,
                  partition: int | None = None) -> tuple[int, int]:
        """Send bytes as they are (bad records), to ``partition`` if given (as any client
        may); returns (partition, offset)."""
        producer = AIOKafkaProducer(**self.kafka.aiokafka())
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, value, key=key, headers=headers or [],
                                                partition=partition)
        finally:
            await producer.stop()
        return meta.partition, meta.offset
