"""Reading the checkpoints topic and what witnesses said of it: checkpoints, cosignatures,
refusals, each verified (the platform's signature; a witness's key at its time).

What is read here is judged against the log by ``consumers.audit.completeness``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumers.audit.findings import Finding, Kind
from consumers.audit.leaves import Wanted
from consumers.audit.records import RawRecord
from schemas import tlog
from schemas.checkpoints import (
    CLOCK_SKEW,
    MAX_TIME,
    CheckpointRecord,
    CosignatureRecord,
    RefusalRecord,
    record_moment,
    utc,
    witness_key_name,
)
from schemas.enums import Side
from schemas.registry import Registry
from schemas.topics import CHECKPOINTS

PLATFORM_KEY_NAME = tlog.PLATFORM_KEY_NAME


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint record as read from the checkpoints topic."""

    topic: str
    partition: int
    offset: int
    origin: str
    size: int
    root: bytes
    time: str
    note: str
    previous_size: int | None
    consistency: tuple[bytes, ...]

    @property
    def body(self) -> str:
        return tlog.parse_note(self.note).text

    def where(self) -> str:
        return f"checkpoint of {self.time} (size {self.size})"


@dataclass(frozen=True, slots=True)
class Cosignature:
    """One cosignature record: a witness's statement about (origin, size, root)."""

    topic: str
    partition: int
    offset: int
    origin: str
    size: int
    root: bytes
    witness: str
    key_name: str
    line: str
    timestamp_ms: int = -1
    """The record's broker timestamp (-1: unknown): when the cosignature was on the log."""


@dataclass(slots=True)
class Valid:
    """A cosignature that verified: whose, which side, when it was made."""

    witness: str
    side: Side
    key_name: str
    line: str
    public_key: bytes
    time: datetime


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def parse_checkpoint(record: RawRecord) -> Checkpoint:
    """A checkpoint record (``schemas.checkpoints``); ``ValueError`` when malformed."""
    doc = CheckpointRecord.from_value(record.value)
    parsed = doc.checkpoint
    return Checkpoint(record.topic, record.partition, record.offset, parsed.origin, parsed.size,
                      parsed.root, _time_of(doc.time, record), doc.note, doc.previous_size,
                      doc.consistency)


def parse_cosignature(record: RawRecord) -> Cosignature:
    doc = CosignatureRecord.from_value(record.value)
    return Cosignature(record.topic, record.partition, record.offset, doc.origin, doc.size,
                       doc.root, doc.witness, doc.key_name, doc.line, record.timestamp_ms)


def _time_of(value: object, record: RawRecord) -> str:
    """A checkpoint's time as ISO 8601 UTC: its ``time`` (unix seconds), else the record's."""
    if isinstance(value, str) and value:
        return value
    seconds = value if isinstance(value, int | float) else record.timestamp_ms / 1000
    if not 0 <= seconds <= MAX_TIME:
        raise ValueError(f"time {seconds} is not unix seconds in 0..{MAX_TIME}")
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def platform_signed(note: str, anchors: Sequence[bytes]) -> bool:
    return any(tlog.verify_note_signature(note, PLATFORM_KEY_NAME, key) for key in anchors)


def cosignature_check(cosig: Cosignature, body: str, registry: Registry | None,  # noqa: PLR0911
                      not_before: datetime | None = None) -> Valid | str:
    """The verified cosignature, or why it is not one (unknown witness, no key valid then,
    a signature that does not verify, a declared time before the checkpoint's ``not_before``
    or far from the record's timestamp).

    The key must be valid at the record's broker timestamp, not only at the time the line
    declares: a revoked (stolen) key cannot cosign by backdating its own time."""
    org = registry.orgs.get(cosig.witness) if registry is not None else None
    if org is None:
        return f"witness {cosig.witness} is not a registered organisation"
    if cosig.key_name != witness_key_name(cosig.witness):
        return f"key name {cosig.key_name} is not {witness_key_name(cosig.witness)}"
    try:
        stamped = tlog.NoteSignature.parse_line(cosig.line).signature
        moment = datetime.fromtimestamp(int.from_bytes(stamped[:8], "big"), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        return f"unreadable cosignature line: {exc}"
    when = record_moment(cosig.timestamp_ms) or moment
    if abs(when - moment) > CLOCK_SKEW:
        return (f"the cosignature by {cosig.witness} declares {moment.isoformat()}, its record "
                f"was written {when.isoformat()}: backdated or postdated")
    if not_before is not None and moment < not_before - CLOCK_SKEW:
        return (f"the cosignature by {cosig.witness} declares {moment.isoformat()}, before the "
                f"checkpoint was made ({not_before.isoformat()}): backdated")
    keys = [k for k in org.keys.values() if k.valid_at(moment) and k.valid_at(when)]
    if not keys:
        return f"{cosig.witness} held no valid key at {when.isoformat()}"
    for key in keys:
        if tlog.verify_cosignature(body, cosig.line, cosig.key_name, key.public_key):
            return Valid(cosig.witness, org.side, cosig.key_name, cosig.line, key.public_key,
                         moment)
    return (f"the cosignature by {cosig.witness} ({cosig.key_name}) does not verify with its "
            f"keys valid at {moment.isoformat()}")


@dataclass(slots=True)
class Judged:
    """Checkpoints and cosignatures read and verified, per origin."""

    checkpoints: dict[str, list[Checkpoint]] = field(default_factory=dict)
    """Valid (platform-signed) checkpoints per origin, in log order."""
    cosigned: dict[tuple[str, int, bytes], list[Valid]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    orphans: dict[str, list[Checkpoint]] = field(default_factory=dict)
    """Heads (origin, size, root) a witness validly cosigned whose checkpoint is missing from
    the checkpoints topic, per origin: judged against the log like checkpoints."""
    unsigned: set[tuple[str, int, bytes]] = field(default_factory=set)
    """Heads of checkpoint records not signed by the trust anchor (reported as invalid)."""
    read: int = 0
    cosignatures: int = 0
    refusals: int = 0

    def sides(self, cp: Checkpoint) -> set[Side]:
        return {v.side for v in self.cosigned.get((cp.origin, cp.size, cp.root), [])}


def read_checkpoints(
    checkpoint_records: Iterable[RawRecord], cosignature_records: Iterable[RawRecord],
    anchors: Sequence[bytes], registry: Registry | None, wanted: Wanted | None = None,
    refusal_records: Iterable[RawRecord] = (),
) -> Judged:
    """Parse and verify every checkpoint (platform signature), cosignature and refusal (witness
    key at its time) of the origins ``wanted`` accepts (all when ``None``)."""
    out = Judged()
    for record in sorted(checkpoint_records, key=lambda r: (r.partition, r.offset)):
        try:
            cp = parse_checkpoint(record)
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            out.findings.append(Finding(record.topic, record.partition, record.offset, None, None,
                                        Kind.CHECKPOINT_INVALID,
                                        f"not a checkpoint record: {exc}"))
            continue
        if wanted is not None and not wanted(cp.origin):
            continue
        out.read += 1
        if not platform_signed(cp.note, anchors):
            out.unsigned.add((cp.origin, cp.size, cp.root))
            out.findings.append(finding_at(cp, Kind.CHECKPOINT_INVALID,
                                    f"{cp.where()} of {cp.origin} is not signed by the platform's "
                                    "key (the trust anchor): forged or altered"))
            continue
        out.checkpoints.setdefault(cp.origin, []).append(cp)
    for record in sorted(cosignature_records, key=lambda r: (r.partition, r.offset)):
        _read_cosignature(record, out, registry, wanted)
    for record in sorted(refusal_records, key=lambda r: (r.partition, r.offset)):
        _read_refusal(record, out, registry, wanted)
    return out


def _read_refusal(record: RawRecord, out: Judged, registry: Registry | None,
                  wanted: Wanted | None) -> None:
    """A witness's refusal, reported when its signature verifies with a key the registry gave
    the witness at the refusal's time (anyone may write the topic: only signed ones count)."""
    try:
        refusal = RefusalRecord.from_value(record.value)
    except (ValueError, KeyError, TypeError, OverflowError):
        return
    said = refusal.refusal
    if wanted is not None and not wanted(said.origin):
        return
    org = registry.orgs.get(said.witness) if registry is not None else None
    signers = [k for k in org.keys.values() if refusal.verify([k.public_key])] if org else []
    if not signers:  # the signature first: nothing unsigned is used
        return
    moment = utc(said.time)
    when = record_moment(record.timestamp_ms) or moment
    if abs(when - moment) > CLOCK_SKEW or not any(
            k.valid_at(moment) and k.valid_at(when) for k in signers):
        return  # backdated, or by a key not valid when the record was written
    out.refusals += 1
    out.findings.append(Finding(
        record.topic, record.partition, record.offset, None, said.witness, Kind.WITNESS_REFUSAL,
        f"{said.witness} refused the checkpoint at {said.record} of {said.origin} on "
        f"{moment.isoformat(timespec='seconds')}: {said.kind.value}"
        + (f" ({refusal.detail})" if refusal.detail else "")))


def _read_cosignature(record: RawRecord, out: Judged, registry: Registry | None,
                      wanted: Wanted | None) -> None:
    try:
        cosig = parse_cosignature(record)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        out.findings.append(Finding(record.topic, record.partition, record.offset, None, None,
                                    Kind.BAD_COSIGNATURE, f"not a cosignature record: {exc}"))
        return
    if wanted is not None and not wanted(cosig.origin):
        return
    out.cosignatures += 1
    same_size = [cp for cp in out.checkpoints.get(cosig.origin, []) if cp.size == cosig.size]
    target = next((cp for cp in same_size if cp.root == cosig.root), None)
    if target is None and not same_size:
        _orphan(cosig, out, registry)
        return
    if target is None:
        if same_size:
            other = same_size[0]
            out.findings.append(Finding(
                cosig.topic, cosig.partition, cosig.offset, None, cosig.witness,
                Kind.CHECKPOINT_FORK,
                f"fork: {cosig.witness} cosigned root {b64(cosig.root)[:12]}… of "
                f"{cosig.origin} at size {cosig.size}, the platform's {other.where()} has "
                f"root {b64(other.root)[:12]}…: the platform showed two histories"))
        return
    verdict = cosignature_check(cosig, target.body, registry, _made(target))
    if isinstance(verdict, str):
        out.findings.append(Finding(cosig.topic, cosig.partition, cosig.offset, None,
                                    cosig.witness, Kind.BAD_COSIGNATURE,
                                    f"{verdict} (on the {target.where()} of {cosig.origin})"))
        return
    out.cosigned.setdefault((cosig.origin, cosig.size, cosig.root), []).append(verdict)


def _orphan(cosig: Cosignature, out: Judged, registry: Registry | None) -> None:
    """A cosignature of a head no checkpoint on the topic has: if it verifies, the witness saw
    the platform sign that head, and the topic no longer shows it. Reported once per head."""
    heads = out.orphans.setdefault(cosig.origin, [])
    try:
        body = tlog.Checkpoint(cosig.origin, cosig.size, cosig.root).body()
    except tlog.TlogError:
        return
    verdict = cosignature_check(cosig, body, registry)
    if isinstance(verdict, str):
        return  # anyone may write the topic: an unverified cosignature proves nothing
    out.cosigned.setdefault((cosig.origin, cosig.size, cosig.root), []).append(verdict)
    if any(h.size == cosig.size and h.root == cosig.root for h in heads):
        return  # another witness's cosignature of this head: reported once
    made = verdict.time.isoformat(timespec="seconds").replace("+00:00", "Z")
    heads.append(Checkpoint(cosig.topic, cosig.partition, cosig.offset, cosig.origin, cosig.size,
                            cosig.root, made, "", None, ()))
    if (cosig.origin, cosig.size, cosig.root) in out.unsigned:
        return  # on the topic, but not signed by the trust anchor: reported as invalid
    out.findings.append(Finding(
        cosig.topic, cosig.partition, cosig.offset, None, cosig.witness, Kind.CHECKPOINT_FORK,
        f"cosigned head whose checkpoint is missing from {CHECKPOINTS}: {cosig.witness} "
        f"cosigned {cosig.origin} at size {cosig.size} (root {b64(cosig.root)[:12]}…) on "
        f"{made}; the checkpoints topic holds no such checkpoint: removed, or shown to the "
        "witness only"))


def _made(cp: Checkpoint) -> datetime | None:
    """When the checkpoint says it was made, if readable."""
    try:
        made = datetime.fromisoformat(cp.time)
    except ValueError:
        return None
    return made if made.tzinfo is not None else made.replace(tzinfo=UTC)


def finding_at(cp: Checkpoint, kind: Kind, reason: str) -> Finding:
    return Finding(cp.topic, cp.partition, cp.offset, None, None, kind, reason)

