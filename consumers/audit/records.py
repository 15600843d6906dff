"""Raw records as the audit reads them, and the topics it reads (the catalogue's, or a test's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from schemas.errors import EminingError
from schemas.topics import (
    APPROVALS,
    CHECKPOINTS,
    COSIGNATURES,
    PARTICIPANTS,
    PROJECTS,
    REFUSALS,
    SHIPMENTS,
)

Headers = tuple[tuple[str, bytes | None], ...]


class RawRecord(NamedTuple):
    """One Kafka record, unparsed: cheap to pickle to a worker process."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_type: int = -1
    """1: stamped by the broker on append (``LogAppendTime``); 0: the producer's CreateTime."""

    @property
    def timestamp(self) -> int:
        """The record timestamp, under the name aiokafka's records use."""
        return self.timestamp_ms


@dataclass(frozen=True, slots=True)
class AuditTopics:
    """Which topic plays which part. Defaults are the catalogue; tests pass unique names."""

    projects: str = PROJECTS
    approvals: str = APPROVALS
    shipments: str = SHIPMENTS
    participants: str = PARTICIPANTS
    checkpoints: str = CHECKPOINTS
    """The platform's signed checkpoints of every log (completeness, ``schemas.tlog``)."""
    cosignatures: str = COSIGNATURES
    """The witnesses' cosignatures of those checkpoints."""
    refusals: str = REFUSALS
    """The witnesses' signed refusals of checkpoints."""

    @property
    def shared(self) -> tuple[str, str, str]:
        return (self.projects, self.approvals, self.shipments)

    @property
    def all(self) -> tuple[str, str, str, str]:
        """The participants topic first: the registry must be folded before anything is judged."""
        return (self.participants, *self.shared)

    def canonical(self, topic: str) -> str | None:
        """The catalogue name of the part ``topic`` plays (what ``EventData.TOPIC`` says)."""
        return {
            self.projects: PROJECTS,
            self.approvals: APPROVALS,
            self.shipments: SHIPMENTS,
            self.participants: PARTICIPANTS,
        }.get(topic)

    def actual(self, canonical: str) -> str:
        """The topic playing the catalogue part ``canonical`` (inverse of ``canonical``); any
        other topic (an alerts topic, say) is its own name."""
        return {
            PROJECTS: self.projects,
            APPROVALS: self.approvals,
            SHIPMENTS: self.shipments,
            PARTICIPANTS: self.participants,
        }.get(canonical, canonical)


class AuditError(EminingError):
    """The audit could not read the log (broker unreachable, a topic missing)."""
