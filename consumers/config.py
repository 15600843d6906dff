"""What a view consumer is configured with: broker, store, trust anchor, group and topic names."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.timing import TimeBounds
from schemas.topics import APPROVALS, DLQ, PARTICIPANTS, PROJECTS, SHIPMENTS
from transport.access import KafkaAccess


@dataclass(frozen=True, slots=True)
class ViewTopics:
    """Topic names (the catalogue's by default; tests use their own)."""

    projects: str = PROJECTS
    approvals: str = APPROVALS
    shipments: str = SHIPMENTS
    participants: str = PARTICIPANTS
    dlq: str = DLQ

    def consumed(self) -> dict[str, str]:
        """Consumed topic → the catalogue topic whose events it carries."""
        return {self.projects: PROJECTS, self.approvals: APPROVALS, self.shipments: SHIPMENTS}


@dataclass(frozen=True, slots=True)
class ViewsConfig:
    kafka: KafkaAccess
    store_url: str
    trust_anchor: tuple[bytes, ...]
    group_id: str = "emining-views"
    instance_id: str | None = None
    """Static group membership: a restarted process gets its partitions back at once."""
    topics: ViewTopics = field(default_factory=ViewTopics)
    batch_size: int = 500
    consumer_name: str = "views"
    timeout_s: float = 15.0
    session_timeout_ms: int = 10_000
    time_bounds: TimeBounds = field(default_factory=TimeBounds)
    """How far an event's time may lie from the broker's append time (same for every reader)."""
    gap_grace_s: float = 60.0
    """How long a source's gap stays open before it is alerted (``consumers.sync.GAP_GRACE_S``:
    a partition's failover delays a predecessor that long at most; 0: at once)."""
    verify_workers: int = 0
    """1: a worker process verifies the next batch while this one is applied
    (``consumers.pipeline``, a second core); 0: verify in-process, batch by batch."""
