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
    CHECKPOINT_INVALID = "checkpoint_invalid"
    """A record on the checkpoints topic that is not a checkpoint signed by the platform's key
    (the trust anchor): forged or altered."""
    LOG_REWRITTEN = "log_rewritten"
    """Records between two checkpoints differ from what the later one committed to (its root is
    not the root of the log's first ``size`` records): rewritten or reordered."""
    TAIL_DROPPED = "tail_dropped"
    """A partition holds fewer records than a checkpoint of it covers: its tail was deleted (or
    the topic recreated without it)."""
    CHECKPOINT_FORK = "checkpoint_fork"
    """Two checkpoints of one log that are not one append-only history: two roots at one size,
    a consistency proof that does not verify, a size that went back, or a witness that
    cosigned another root than the platform published."""
    BAD_COSIGNATURE = "bad_cosignature"
    """A cosignature record that does not verify with its witness's key at its time (or names
    no registered witness)."""
    COSIGNATURE_MISSING = "cosignature_missing"
    """A checkpoint no witness of one side (PK or CN) validly cosigned (warning)."""
    NO_CHECKPOINTS = "no_checkpoints"
    """No checkpoint topic (or no checkpoint) to judge completeness by (warning)."""
    WITNESS_REFUSAL = "witness_refusal"
    """A witness's signed refusal of a checkpoint (a fork, a shrink, a bad proof, a forgery):
    its testimony, reported for attention (warning); the audit judges the checkpoints itself."""


WARNING_KINDS = frozenset({Kind.REDELIVERY, Kind.COSIGNATURE_MISSING, Kind.NO_CHECKPOINTS,
                           Kind.WITNESS_REFUSAL})
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
class Head:
    """The newest valid checkpoint of one log and which sides cosigned it."""

    origin: str
    size: int
    time: str
    log_size: int
    sides: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "size": self.size, "time": self.time,
                "log_size": self.log_size, "cosigned_by": self.sides}


@dataclass(slots=True)
class Completeness:
    """What the checkpoints prove about the log (``audit verify``'s completeness section)."""

    checkpoints: int = 0
    """Checkpoint records read for the audited logs."""
    valid: int = 0
    """Of which signed by the platform and well formed."""
    cosignatures: int = 0
    refusals: int = 0
    """Witnesses' signed refusals that verified."""
    cosigned_both: int = 0
    """Valid checkpoints with a valid cosignature from each side."""
    logs: int = 0
    """Audited partitions."""
    records_checkpointed: int = 0
    records_pending: int = 0
    """Records beyond their log's newest checkpoint: not yet checkpointed."""
    heads: list[Head] = field(default_factory=list)
    topic_missing: bool = False

    @property
    def uncosigned_heads(self) -> list[Head]:
        """Newest checkpoints that no witness of either side cosigned."""
        return [h for h in self.heads if not h.sides]

    def to_json(self) -> dict[str, Any]:
        return {
            "checkpoints": self.checkpoints,
            "valid": self.valid,
            "cosignatures": self.cosignatures,
            "refusals": self.refusals,
            "cosigned_both": self.cosigned_both,
            "logs": self.logs,
            "records_checkpointed": self.records_checkpointed,
            "records_pending": self.records_pending,
            "topic_missing": self.topic_missing,
            "heads": [h.to_json() for h in self.heads],
        }


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
    completeness: Completeness | None = None
    """What the platform's cosigned checkpoints prove about the log (``None``: not judged)."""

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
            "completeness": None if self.completeness is None else self.completeness.to_json(),
        }
