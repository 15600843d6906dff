"""Publishing a scenario through the real SDK onto a chosen topic set (tests and benchmark)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from consumers.audit.records import AuditTopics
from producers.publisher import Draft, Publisher, PublishResult
from schemas.base import EventData
from tests.unit.audit.parties import OPERATOR_ORG, VALID_FROM, Parties
from tests.unit.audit.scenario import Step
from transport.access import KafkaAccess
from transport.sender import RecordSender


@cache
def on_topic(cls: type[EventData], topic: str) -> type[EventData]:
    """``cls`` publishing to ``topic``: isolates a test without changing the contract."""
    return type(f"{cls.__name__}On{abs(hash(topic))}", (cls,), {"TOPIC": topic})


def moved(data: EventData, topics: AuditTopics) -> EventData:
    sub = on_topic(type(data), topics.actual(data.TOPIC))
    return sub.model_validate(data.model_dump(mode="json", exclude_none=True))


class Bus:
    """One sender, one publisher per organisation (source ``<org>/app``) on a topic set."""

    def __init__(self, kafka: KafkaAccess, topics: AuditTopics, parties: Parties, state: Path):
        self.kafka, self.topics, self.parties, self.state = kafka, topics, parties, state
        self.sender = RecordSender(kafka)
        self.publishers: dict[str, Publisher] = {}

    async def __aenter__(self) -> Bus:
        await self.sender.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pub in self.publishers.values():
            await pub.stop()
        await self.sender.stop()

    async def publisher(self, org: str, instance: str = "app") -> Publisher:
        source = f"{org}/{instance}"
        if source not in self.publishers:
            pub = Publisher(key=self.parties.keys[org], source=source, sender=self.sender,
                            state_dir=self.state / "chains")
            await pub.start()
            self.publishers[source] = pub
        return self.publishers[source]

    async def registry(self) -> list[PublishResult]:
        pub = await self.publisher(OPERATOR_ORG, "registry")
        drafts = [Draft(moved(e, self.topics), time=VALID_FROM)
                  for e in self.parties.registry_events()]
        return await pub.publish_many(drafts)

    async def steps(self, steps: Iterable[Step], window: int = 4000) -> list[PublishResult]:
        """Publish in time order, each organisation's share of a batch at once, all in flight.

        A batch ends before a step about a subject another organisation already spoke about
        in it: on one partition, a licence's grant must land after its application, which is
        what concurrent publishers would not otherwise guarantee.
        """
        results: list[PublishResult] = []
        by_org: dict[str, list[Draft]] = {}
        speakers: dict[str, str] = {}
        for step in steps:
            subject = step.data.subject
            full = sum(len(d) for d in by_org.values()) >= window
            if full or speakers.get(subject, step.org) != step.org:
                results += await self._flush(by_org)
                by_org, speakers = {}, {}
            speakers[subject] = step.org
            by_org.setdefault(step.org, []).append(
                Draft(moved(step.data, self.topics), time=step.time))
        return results + await self._flush(by_org)

    async def _flush(self, by_org: dict[str, list[Draft]]) -> list[PublishResult]:
        pubs = [await self.publisher(org) for org in by_org]
        done = await asyncio.gather(*(p.publish_many(d) for p, d in
                                      zip(pubs, by_org.values(), strict=True)))
        return [r for batch in done for r in batch]
