"""Unit-test harness: seal scenario steps into records, verify them, fold them into dict "tables".

``MemoryViews`` plays the store's part of a batch (load what the fold needs, keep the changes)
with plain dicts, so the verification stage, the fold and the projections are tested exactly as
the consumer runs them, without Kafka or SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from consumers.fold import Fold, Position, Subject
from consumers.history import History
from consumers.holding import StoredRecord
from consumers.verification import Accepted, Rejected, VerificationStage
from consumers.views.families import FAMILIES
from consumers.views.models import TimelineEntry, ViewDoc
from producers.publisher import Draft
from schemas.chain import Link
from schemas.envelope import Envelope, seal, to_record
from schemas.events.corrections import Correction
from schemas.registry import Registry
from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS
from tests.integration.views import scenario
from transport.meta import key_partition

PARTITIONS = 6
OPERATOR_KEY = scenario.key_of(scenario.PLATFORM)


Record = StoredRecord
"""A consumed record, shaped like aiokafka's ``ConsumerRecord`` (``timestamp_type`` 1: the
broker stamped it, LogAppendTime): the shape the views keep held records in."""


class StaticRegistry:
    """A registry source that never changes; counts the refreshes asked of it."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.refreshes = 0

    async def refresh(self, *, force: bool = True) -> bool:
        self.refreshes += 1
        return False


@dataclass(slots=True)
class Log:
    """Seals drafts as ``<org>/test`` sources (chained) and lays them out as partitioned records."""

    links: dict[str, Link] = field(default_factory=dict)
    ends: dict[tuple[str, int], int] = field(default_factory=dict)

    def seal(self, org: str, draft: Draft) -> Envelope:
        source = f"{org}/test"
        sequence, prevhash = self.links.get(source, Link()).next()
        env = seal(draft.data, source=source, signer=scenario.key_of(org).signer(),
                   sequence=sequence, prevhash=prevhash, event_id=draft.event_id,
                   time=draft.time)
        self.links[source] = Link(sequence, env.hash())
        return env

    def record(self, env: Envelope, **changes: Any) -> Record:
        kafka = to_record(env)
        topic = changes.pop("topic", kafka.topic)
        partition = key_partition(kafka.key, PARTITIONS)
        offset = self.ends.get((topic, partition), 0)
        self.ends[(topic, partition)] = offset + 1
        fields = {"key": kafka.key, "value": kafka.value, "headers": tuple(kafka.headers)}
        fields.update(changes)
        return Record(topic, partition, offset, **fields)

    def records(self, steps: list[scenario.Step]) -> list[Record]:
        return [self.record(self.seal(s.org, s.draft)) for s in steps]


@dataclass(slots=True)
class MemoryViews:
    """The views as dicts, fed batch by batch like the store feeds the fold."""

    stage: VerificationStage = field(default_factory=lambda: stage_for(scenario.registry()))
    views: dict[str, ViewDoc] = field(default_factory=dict)
    timeline: dict[str, list[TimelineEntry]] = field(default_factory=dict)
    history: History = field(default_factory=History)
    rejected: list[tuple[Record, Rejected]] = field(default_factory=list)

    async def feed(self, records: list[Record]) -> list[Rejected | None]:
        verdicts = await self.stage.check_batch(records)
        accepted = [v for v in verdicts if isinstance(v, Accepted)]
        fold = Fold(self._subjects(accepted), History(set(self.history.seen),
                                                      dict(self.history.last_sequence)))
        results: list[Rejected | None] = []
        for record, verdict in zip(records, verdicts, strict=True):
            at = Position(record.topic, record.partition, record.offset)
            outcome = verdict if isinstance(verdict, Rejected) else fold.apply(verdict, at)
            if outcome is not None:
                self.rejected.append((record, outcome))
            results.append(outcome)
        self._keep(fold)
        return results

    def _subjects(self, accepted: list[Accepted]) -> dict[str, Subject]:
        subjects = {}
        for item in accepted:
            name = item.envelope.subject
            entries = self.timeline.get(name, [])
            corrected = isinstance(item.envelope.data, Correction)
            subjects[name] = subjects.get(name) or Subject(
                FAMILIES[item.family], self.views.get(name),
                last_position=entries[-1].position if entries else 0,
                timeline=list(entries) if corrected else None)
            if corrected and subjects[name].timeline is None:
                subjects[name].timeline = list(entries)
        return subjects

    def _keep(self, fold: Fold) -> None:
        changes = fold.changes()
        for _, subject, view in changes.views:
            if view is None:
                self.views.pop(subject, None)
            else:
                self.views[subject] = view
        for item in changes.new_entries:
            self.timeline.setdefault(item.subject, []).append(item)
        for item in changes.updated_entries:
            entries = self.timeline[item.subject]
            entries[[e.position for e in entries].index(item.position)] = item
        self.history.seen |= fold.history.seen
        self.history.last_sequence.update(changes.positions)

    def doc(self, subject: str) -> dict[str, Any]:
        return dict(json.loads(self.views[subject].model_dump_json()))


def stage_for(registry: Registry) -> VerificationStage:
    topics = {PROJECTS: PROJECTS, APPROVALS: APPROVALS, SHIPMENTS: SHIPMENTS}
    return VerificationStage(StaticRegistry(registry), [OPERATOR_KEY.public_key], topics)


async def fold_scenario(stories: int, *, batch: int = 200) -> tuple[MemoryViews, Log]:
    """The whole scenario of ``stories`` folded round after round, in batches of ``batch``."""
    views, log = MemoryViews(), Log()
    records = [r for steps in scenario.build(stories).rounds() for r in log.records(steps)]
    for start in range(0, len(records), batch):
        await views.feed(records[start:start + batch])
    return views, log


class WholeLogControl:
    """The consumer as ``ViewSync`` sees it: owns every partition of ``logs``; knows their
    ends; never asked to seek (the records come in each partition's order)."""

    def __init__(self, logs: dict[tuple[str, int], list[Record]]) -> None:
        self._ends = {TopicPartition(*tp): len(items) for tp, items in logs.items()}

    def assignment(self) -> set[TopicPartition]:
        return set(self._ends)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError(f"no re-seek expected ({partition} to {offset})")

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._ends[partition]
