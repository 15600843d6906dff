"""The scenario laid out as an in-memory Kafka log, then verified and folded as consumers do.

Each step is sealed as the next link of its source (``<org>/demo`` for the SDK,
``<org>/import`` for the CLI import, ``<org>/custodial-gateway`` for the HTTP gateway), the
registry seed is signed by a fixed operator key, the attacks are forged and the replay re-sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumers.audit.records import RawRecord
from consumers.verification import VerificationStage
from infra.demo.scenario import Attack, Scenario, forge
from infra.demo.setup import load_seed
from schemas.base import EventData
from schemas.chain import Link
from schemas.envelope import Envelope, seal, to_record
from schemas.registry import Registry, seed_events
from schemas.signing import PrivateKey
from schemas.topics import APPROVALS, PARTICIPANTS, PROJECTS, SHIPMENTS
from tests.unit.views.harness import MemoryViews, StaticRegistry

PARTITIONS = 3
VALID_FROM = datetime(2025, 1, 1, tzinfo=UTC)
"""When the demo registry's keys and grants start (as ``infra.demo.setup.prepare`` seeds them)."""
INSTANCE = {"sdk": "demo", "import": "import", "http": "custodial-gateway"}


def key_of(org: str) -> PrivateKey:
    return PrivateKey(org=org, seed=hashlib.sha256(f"scenario-test:{org}".encode()).digest())


SEED = load_seed()
OPERATOR = key_of(SEED.platform)
KEYS = {org.id: key_of(org.id) for org in SEED.organisations}


def registry() -> Registry:
    folded = Registry()
    for event in seed_events(SEED, {o: k.public_key for o, k in KEYS.items()}, VALID_FROM):
        folded.apply(event, VALID_FROM)
    return folded


@dataclass(slots=True)
class MemoryLog:
    records: list[RawRecord] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)
    by_event: dict[str, RawRecord] = field(default_factory=dict)
    _ends: dict[tuple[str, int], int] = field(default_factory=dict)

    def append(self, env: Envelope) -> RawRecord:
        kafka = to_record(env)
        return self.append_raw(kafka.topic, kafka.key, kafka.value, tuple(kafka.headers), env.id)

    def append_raw(self, topic: str, key: bytes | None, value: bytes | None,
                   headers: tuple[tuple[str, bytes | None], ...], event_id: str) -> RawRecord:
        partition = 0 if topic == PARTICIPANTS else zlib.crc32(key or b"") % PARTITIONS
        offset = self._ends.get((topic, partition), 0)
        self._ends[(topic, partition)] = offset + 1
        record = RawRecord(topic, partition, offset, 1_750_000_000_000 + len(self.records), key,
                           value, headers)
        self.records.append(record)
        self.by_event.setdefault(event_id, record)
        return record

    def link(self, source: str, key: PrivateKey, data: EventData, event_id: str | None,
             time: datetime) -> Envelope:
        """``data`` sealed as the next link of ``source``'s chain."""
        sequence, prevhash = self.links.get(source, Link()).next()
        env = seal(data, source=source, signer=key.signer(), sequence=sequence,
                   prevhash=prevhash, event_id=event_id, time=time)
        self.links[source] = Link(sequence, env.hash())
        return env


def lay_out(scenario: Scenario, *, with_attacks: bool = True) -> MemoryLog:
    """The registry, then every step in order, then (optionally) the attacks, as records."""
    log = MemoryLog()
    for event in seed_events(SEED, {o: k.public_key for o, k in KEYS.items()}, VALID_FROM):
        log.append(log.link(f"{SEED.platform}/registry", OPERATOR, event, None, VALID_FROM))
    for step in scenario.steps:
        source = f"{step.org}/{INSTANCE[step.path]}"
        log.append(log.link(source, KEYS[step.org], step.data, step.event_id, step.time))
    if with_attacks:
        for attack in scenario.attacks:
            inject(log, attack)
    return log


def inject(log: MemoryLog, attack: Attack) -> RawRecord:
    if attack.replays is not None:
        original = log.by_event[attack.replays]
        return log.append_raw(original.topic, original.key, original.value, original.headers,
                              attack.event_id)
    return log.append(forge(attack, KEYS))


def stage() -> VerificationStage:
    topics = {PROJECTS: PROJECTS, APPROVALS: APPROVALS, SHIPMENTS: SHIPMENTS}
    return VerificationStage(StaticRegistry(registry()), [OPERATOR.public_key], topics)


def fold(log: MemoryLog, batch: int = 250) -> MemoryViews:
    """The shared topics' records folded batch by batch, as a consumer folds them (the views
    tests' ``MemoryViews``: verification, history, fold, dicts for tables)."""
    views = MemoryViews(stage=stage())
    shared = [r for r in log.records if r.topic != PARTICIPANTS]

    async def feed() -> None:
        for start in range(0, len(shared), batch):
            await views.feed(shared[start:start + batch])

    asyncio.run(feed())
    return views
