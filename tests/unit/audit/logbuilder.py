"""An in-memory log for audit unit tests: sealed, chained events as raw records with offsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from consumers.audit.records import AuditTopics, RawRecord
from schemas.base import EventData
from schemas.chain import Link
from schemas.envelope import Envelope, seal, to_record
from schemas.signing import PrivateKey
from tests.unit.audit.parties import OPERATOR_ORG, VALID_FROM, Parties
from tests.unit.audit.scenario import Step
from transport.meta import key_partition


@dataclass(slots=True)
class LogBuilder:
    """Appends records as a broker would: keyed partitions, offsets counting from 0."""

    parties: Parties
    topics: AuditTopics = field(default_factory=AuditTopics)
    partitions: int = 3
    records: list[RawRecord] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)
    _next: dict[tuple[str, int], int] = field(default_factory=dict)
    clock_ms: int = 1_700_000_000_000

    def append(self, topic: str, key: bytes, value: bytes,
               headers: list[tuple[str, bytes]], partition: int | None = None) -> RawRecord:
        if partition is None:
            count = 1 if topic == self.topics.participants else self.partitions
            partition = key_partition(key, count)
        offset = self._next.get((topic, partition), 0)
        self._next[(topic, partition)] = offset + 1
        self.clock_ms += 1
        record = RawRecord(topic, partition, offset, self.clock_ms, key, value, tuple(headers))
        self.records.append(record)
        return record

    def append_envelope(self, env: Envelope, partition: int | None = None) -> RawRecord:
        rec = to_record(env)
        return self.append(self.topics.actual(rec.topic), rec.key, rec.value, rec.headers,
                           partition)

    def seal(self, org: str, data: EventData, time: datetime, *, instance: str = "app",
             key: PrivateKey | None = None, sequence: int | None = None,
             prevhash: str | None = None, event_id: str | None = None,
             advance: bool = True) -> Envelope:
        """The next link of ``org/instance``'s chain (or the given place), not yet appended."""
        source = f"{org}/{instance}"
        link = self.links.get(source, Link())
        seq, prev = link.next()
        env = seal(data, source=source, signer=(key or self.parties.keys[org]).signer(),
                   sequence=sequence or seq, prevhash=prevhash or prev, event_id=event_id,
                   time=time)
        if advance:
            self.links[source] = Link(env.sequence, env.hash())
        return env

    def publish(self, org: str, data: EventData, time: datetime, **options: object) -> RawRecord:
        partition = options.pop("partition", None)
        env = self.seal(org, data, time, **options)  # type: ignore[arg-type]
        return self.append_envelope(env, partition)  # type: ignore[arg-type]

    def registry(self) -> None:
        for event in self.parties.registry_events():
            self.publish(OPERATOR_ORG, event, VALID_FROM, instance="registry")

    def story(self, steps: list[Step]) -> None:
        for step in steps:
            self.publish(step.org, step.data, step.time)
