"""What the audit can find wrong on the log, each finding pinned to one record's position."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from schemas.chain import ChainFault
from schemas.registry import Registry


class Kind(StrEnum):
    """Kinds of finding; the chain kinds reuse ``schemas.chain.ChainFault``'s names."""

    MALFORMED = "malformed"
    """Not one of our events: a header, the JSON or the schema is wrong."""
    WRONG_TOPIC = "wrong_topic"
    """A valid event on a topic its family does not belong to."""
    WRONG_PARTITION = "wrong_partition"
    """A valid event outside the partition its key hashes to (murmur2): its subject's events
    are then ordered by read order, not by the log."""
    BAD_SIGNATURE = "bad_signature"
    """The signature does not verify with the key ``ce_keyid`` names: forged or altered."""
    INVALID_KEY = "invalid_key"
    """The signature verifies, but with a key that was not the organisation's at the event time
    (revoked, rotated out, not yet valid, or another organisation's)."""
    REWRITE = "rewrite"
    """An event re-signed with a key that is not the organisation's valid key, claiming a place
    (sequence or id) that an authentic event of the same source already holds."""
    UNAUTHORISED = "unauthorised"
    """Authentic, but outside the authority the registry gave the organisation at that time."""
    TIME_SKEW = "time_skew"
    """Authentic, but dated further from the broker's append time than the skew allows and in no
    backfill window: a backdated or future-dated decision."""
    REGISTRY_CONFLICT = "registry_conflict"
    """A trust-anchor-signed registry event that cannot apply (e.g. an organisation twice)."""
    SEQUENCE_GAP = ChainFault.GAP.value
    REPLAY = ChainFault.REPLAY.value
    REORDER = ChainFault.REORDER.value
    HASH_CHAIN_BROKEN = ChainFault.BROKEN_LINK.value
    BAD_GENESIS = ChainFault.BAD_GENESIS.value
    DUPLICATE = "duplicate"
    """The same (source, id) twice with different content: one of the two rewrites the other."""
    REDELIVERY = "redelivery"
    """The same (source, id) twice, byte-for-byte identical: a re-send (warning only)."""
    LOG_TRUNCATED = "log_truncated"
    """A partition no longer starts at offset 0: earlier records were deleted."""
    INVALID_TRANSITION = "invalid_transition"
    """Authentic, but a step its subject's lifecycle does not allow at that point (named from →
    to, see ``schemas.lifecycles``), or a correction that would make the history impossible:
    the views refused it."""


WARNING_KINDS = frozenset({Kind.REDELIVERY})
"""Findings that do not make the log wrong: readers deduplicate them by (source, id)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth a warning) at one record of the log."""

    topic: str
    partition: int
    offset: int
    event_id: str | None
    source: str | None
    kind: Kind
    reason: str

    @property
    def is_warning(self) -> bool:
        return self.kind in WARNING_KINDS

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["kind"] = self.kind.value
        return doc


@dataclass(slots=True)
class VerifyReport:
    """The outcome of ``emining audit verify`` over one snapshot of the log."""

    records: int = 0
    """Records read from every audited topic (participants and shared)."""
    events: int = 0
    """Records that were authentic events (parsed, signed by a valid key)."""
    sources: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    """CPU time of the parent and every worker: with ``records``, the cost on an idle machine."""
    end_offsets: dict[str, dict[int, int]] = field(default_factory=dict)
    """The snapshot audited: per topic and partition, the offset the audit read up to."""
    findings: list[Finding] = field(default_factory=list)
    registry: Registry | None = field(default=None, repr=False)
    """The registry folded from the participants topic (names, keys, grants): not serialised."""

    @property
    def violations(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_warning]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.is_warning]

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def rate(self) -> float:
        """Records per second over the whole run (reading included)."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def counts(self) -> dict[str, int]:
        """Findings per kind, most frequent first."""
        return dict(Counter(f.kind.value for f in self.findings).most_common())

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "events": self.events,
            "sources": self.sources,
            "organisations": len(self.registry.orgs) if self.registry else 0,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.rate),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "end_offsets": {
                topic: {str(p): o for p, o in sorted(parts.items())}
                for topic, parts in sorted(self.end_offsets.items())
            },
            "summary": self.counts(),
            "violations": [f.to_json() for f in self.violations],
            "warnings": [f.to_json() for f in self.warnings],
        }
