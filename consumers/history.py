"""Duplicate and order checks: what a consumer must remember of each source, kept in its store.

An event already accepted (same source and id) is a duplicate. Within one partition each source's
sequence must strictly increase, so a replayed or reordered event is caught by whichever consumer
owns the partition; gaps are expected there (a source writes to many partitions) and are the
audit's to judge over the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumers.verification import Reason, Rejected
from schemas.chain import check_partition_order
from schemas.envelope import Envelope

PositionKey = tuple[str, int, str]
"""``(topic, partition, source)``."""


@dataclass(slots=True)
class History:
    """The part of a consumer's memory a batch needs, loaded from its store; updated in place."""

    seen: set[tuple[str, str]] = field(default_factory=set)
    """``(source, event_id)`` of events already accepted."""
    last_sequence: dict[PositionKey, int] = field(default_factory=dict)
    changed: dict[PositionKey, int] = field(default_factory=dict)
    """Positions advanced by this batch: what the store must write back."""

    def check(self, envelope: Envelope, topic: str, partition: int) -> Rejected | None:
        return self.check_duplicate(envelope) or self.check_order(envelope, topic, partition)

    def check_duplicate(self, envelope: Envelope) -> Rejected | None:
        if (envelope.source, envelope.id) in self.seen:
            return Rejected(Reason.DUPLICATE, f"event {envelope.id} of {envelope.source} was "
                            "already accepted", event_id=envelope.id, source=envelope.source)
        return None

    def check_order(self, envelope: Envelope, topic: str, partition: int) -> Rejected | None:
        ids = {"event_id": envelope.id, "source": envelope.source}
        last = self.last_sequence.get((topic, partition, envelope.source))
        fault = check_partition_order(last, envelope.sequence)
        if fault is not None:
            return Rejected(Reason(fault.value), f"sequence {envelope.sequence} of "
                            f"{envelope.source} after {last} in {topic}[{partition}]", **ids)
        return None

    def record(self, envelope: Envelope, topic: str, partition: int) -> None:
        self.seen.add((envelope.source, envelope.id))
        self.record_order(envelope, topic, partition)

    def record_order(self, envelope: Envelope, topic: str, partition: int) -> None:
        key = (topic, partition, envelope.source)
        self.last_sequence[key] = self.changed[key] = envelope.sequence
