"""What the chain stage holds and reads: held records, their reasons, a source's chain.

Types only (and the few pure helpers on them): the other modules of ``consumers.holding`` all
import from here, and this imports none of them. The record itself, ``StoredRecord``, is in
``consumers.stored_record``, which the verify worker uses without this package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from consumers.fold import Position
from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, RawRecord, RefusedEvent, Verdict
from schemas.envelope import Envelope
from schemas.envelope_read import from_record
from schemas.signing import GENESIS_HASH
from schemas.timing import appended_at

Key = tuple[str, int, int]
"""A record's place in the log: (topic, partition, offset)."""


class Hold(StrEnum):
    GAP = "sequence_gap"
    FORK = "fork"
    BEHIND = "behind"
    LINK = "link_only"
    """A refused (dead-lettered) authentic record waiting for its predecessors only to pass on
    its place in the chain: it blocks no subject and is never applied."""


@dataclass(slots=True)
class Chain:
    """Where a source's chain stands: every sequence up to ``head`` read and linked."""

    head: int = 0
    head_hash: str = GENESIS_HASH
    forked_at: int | None = None
    """The sequence from which the source is quarantined (two events claimed it)."""


@dataclass(slots=True, eq=False)
class Held:
    record: StoredRecord
    source: str
    sequence: int
    subject: str
    event_id: str
    reason: Hold
    alerted: bool = False
    held_at: datetime | None = None
    """When the record was first held (the store's ``held_at``): a gap is alerted only once
    it stayed open past the grace (``open_gaps``)."""

    @property
    def key(self) -> Key:
        return (self.record.topic, self.record.partition, self.record.offset)


Ready = tuple[Envelope, RawRecord, "Held | None", Accepted | None]
"""A record whose chain place is next: its event, record, held row if any, and its verdict
(``None``: refused by the verification stage, it only passes on its place)."""
Verify = Callable[[Sequence[RawRecord]], Awaitable[list[Verdict]]]
"""The verification stage, for records released from the store."""
LoadSubjects = Callable[[Sequence[tuple[Accepted, Position]]], Awaitable[None]]
"""Loads into the fold the subjects (and histories) of records about to be applied."""


def chained(verdict: Verdict) -> Envelope | None:
    """The event whose chain place a verdict's record takes, if any."""
    if isinstance(verdict, Accepted):
        return verdict.envelope
    return verdict.envelope if isinstance(verdict, RefusedEvent) else None


def envelope_of(record: StoredRecord) -> Envelope:
    """The event of a stored record that was verified before (its chain fields are needed)."""
    return from_record(record.key, record.value, record.headers)


def offset_of(held: Held) -> int:
    return held.record.offset


def position_of(record: RawRecord) -> Position:
    return Position(record.topic, record.partition, record.offset,
                    appended_at(getattr(record, "timestamp", None),
                                getattr(record, "timestamp_type", None)))


def parse_held_at(text: str | None) -> datetime | None:
    """A stored ``held_at`` (``format_time``'s spelling), ``None`` if absent or unreadable."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
