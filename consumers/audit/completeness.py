"""Completeness: the log holds exactly what the platform's cosigned checkpoints committed to.

Every partition of the audited topics is a transparency log of its own (origin
``emining/<topic>/<partition>``, leaf ``i`` the record at its ``i``-th offset, hashed as
``schemas.tlog.record_leaf`` says). The checkpointer publishes signed checkpoints of each log
(size and RFC 9162 root) with a consistency proof from the previous one; witnesses of both sides
cosign what they checked. Here the audit judges all of it against the log as it reads it:

- each checkpoint is signed by the platform (the trust anchor's key);
- its root is the root of the log's first ``size`` leaves, which proves every one of those
  records is included as it was when checkpointed; a mismatch is placed between the last
  checkpoint that matches and the first that does not (records rewritten or reordered there);
- a log shorter than a checkpoint lost its tail (a topic recreated without its last records);
- consecutive checkpoints of one log are consistent (their proofs verify, no two roots at one
  size): otherwise the platform showed two histories, a fork;
- each checkpoint has a valid cosignature from a witness of each side (a warning if not).
"""

from __future__ import annotations

import base64
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from consumers.audit.findings import Completeness, Finding, Head, Kind
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

log = structlog.get_logger("consumers.audit.completeness")

TP = tuple[str, int]
Wanted = Callable[[str], bool]
"""Which origins (logs) to judge."""
PLATFORM_KEY_NAME = tlog.PLATFORM_KEY_NAME
SIDES = (Side.PK, Side.CN)


def origin_of(topic: str, partition: int) -> str:
    return tlog.origin_for(topic, partition)


def of_topics(topics: Iterable[str]) -> Wanted:
    """The origins of every partition of ``topics``, present or not."""
    names = set(topics)

    def wanted(origin: str) -> bool:
        try:
            return tlog.parse_origin(origin)[0] in names
        except tlog.TlogError:
            return False

    return wanted


def leaf_hash_of(record: RawRecord) -> bytes:
    """The RFC 9162 leaf hash of one record, as the checkpointer computes it."""
    return tlog.leaf_hash(tlog.record_leaf(record.topic, record.partition, record.offset,
                                           record.timestamp_ms, record.key, record.value,
                                           record.headers))


@dataclass(slots=True)
class PartitionLeaves:
    """One partition's records as leaves: offsets and 32-byte leaf hashes, in offset order."""

    offsets: array[int] = field(default_factory=lambda: array("q"))
    hashes: bytearray = field(default_factory=bytearray)

    def __len__(self) -> int:
        return len(self.offsets)

    def leaf(self, index: int) -> bytes:
        return bytes(self.hashes[32 * index: 32 * index + 32])

    def all(self) -> list[bytes]:
        return [self.leaf(i) for i in range(len(self))]


class LeafTable:
    """Leaf hashes gathered per partition, possibly out of order (slices read by workers)."""

    def __init__(self) -> None:
        self._chunks: dict[TP, list[tuple[int, array[int], bytes]]] = {}

    def add_records(self, records: Iterable[RawRecord]) -> None:
        by_tp: dict[TP, tuple[array[int], bytearray]] = {}
        for r in records:
            offsets, hashes = by_tp.setdefault((r.topic, r.partition), (array("q"), bytearray()))
            offsets.append(r.offset)
            hashes += leaf_hash_of(r)
        for tp, (offsets, hashes) in by_tp.items():
            self.add_chunk(tp, offsets, bytes(hashes))

    def add_chunk(self, tp: TP, offsets: array[int], hashes: bytes) -> None:
        if offsets:
            self._chunks.setdefault(tp, []).append((offsets[0], offsets, hashes))

    def build(self) -> dict[TP, PartitionLeaves]:
        out: dict[TP, PartitionLeaves] = {}
        for tp, chunks in self._chunks.items():
            leaves = PartitionLeaves()
            for _, offsets, hashes in sorted(chunks, key=lambda c: c[0]):
                leaves.offsets.extend(offsets)
                leaves.hashes += hashes
            out[tp] = leaves
        return out


def leaves_of(records: Iterable[RawRecord]) -> dict[TP, PartitionLeaves]:
    table = LeafTable()
    table.add_records(records)
    return table.build()


class Frontier:
    """The right edge of a Merkle tree grown leaf by leaf: its RFC 9162 root at any size in
    O(log n), so every checkpoint of a log is checked in one pass over its leaves."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, root of a perfect subtree)

    def append(self, leaf_hash: bytes) -> None:
        height, node = 0, leaf_hash
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = tlog.node_hash(left, node)
            height += 1
        self._stack.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return tlog.merkle_root([])
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = tlog.node_hash(left, node)
        return node


def roots_at(leaves: PartitionLeaves, sizes: Iterable[int]) -> dict[int, bytes]:
    """The log's root at each of ``sizes`` (those within it), in one pass over its leaves."""
    frontier, out = Frontier(), {}
    for size in sorted({s for s in sizes if s <= len(leaves)}):
        while frontier.size < size:
            frontier.append(leaves.leaf(frontier.size))
        out[size] = frontier.root()
    return out


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


def _b64(raw: bytes) -> str:
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
            out.findings.append(_at(cp, Kind.CHECKPOINT_INVALID,
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
                f"fork: {cosig.witness} cosigned root {_b64(cosig.root)[:12]}… of "
                f"{cosig.origin} at size {cosig.size}, the platform's {other.where()} has "
                f"root {_b64(other.root)[:12]}…: the platform showed two histories"))
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
        f"cosigned {cosig.origin} at size {cosig.size} (root {_b64(cosig.root)[:12]}…) on "
        f"{made}; the checkpoints topic holds no such checkpoint: removed, or shown to the "
        "witness only"))


def judge_orphans(tp: TP, leaves: PartitionLeaves, heads: list[Checkpoint],
                  longest: int) -> list[Finding]:
    """Cosigned heads missing from the checkpoints topic against the log: a tail dropped
    (beyond what a checkpoint already shows) or records rewritten."""
    findings: list[Finding] = []
    log_roots = roots_at(leaves, [h.size for h in heads])
    end = leaves.offsets[-1] + 1 if len(leaves) else 0
    for head in sorted(heads, key=lambda h: h.size):
        if head.size > len(leaves):
            if head.size > longest:
                findings.append(Finding(
                    tp[0], tp[1], end, None, None, Kind.TAIL_DROPPED,
                    f"tail dropped: a witness cosigned {head.size} records of {head.origin} on "
                    f"{head.time} (its checkpoint is missing), the log has {len(leaves)}: "
                    f"{head.size - len(leaves)} record(s) at the end are gone"))
                longest = head.size
        elif log_roots[head.size] != head.root:
            findings.append(_rewritten(tp, leaves, 0, head.size, head, 0))
    return findings


def _made(cp: Checkpoint) -> datetime | None:
    """When the checkpoint says it was made, if readable."""
    try:
        made = datetime.fromisoformat(cp.time)
    except ValueError:
        return None
    return made if made.tzinfo is not None else made.replace(tzinfo=UTC)


def _at(cp: Checkpoint, kind: Kind, reason: str) -> Finding:
    return Finding(cp.topic, cp.partition, cp.offset, None, None, kind, reason)


def _range(leaves: PartitionLeaves, first: int, stop: int) -> str:
    """Offsets of leaves ``first..stop-1`` as text."""
    a, b = leaves.offsets[first], leaves.offsets[stop - 1]
    return f"offset {a}" if a == b else f"offsets {a}..{b}"


def judge_log(tp: TP, leaves: PartitionLeaves, checkpoints: list[Checkpoint]
              ) -> list[Finding]:
    """One log against its valid checkpoints (in log order): forks, roots, the tail."""
    findings, links = _consistency(checkpoints)
    roots: dict[int, set[bytes]] = {}
    for cp in checkpoints:
        roots.setdefault(cp.size, set()).add(cp.root)
    log_roots = roots_at(leaves, roots)  # a size beyond the log cannot be checked against it
    matched, failing = 0, False
    for cp in sorted(checkpoints, key=lambda c: (c.size, c.partition, c.offset)):
        if cp.size > len(leaves):
            continue
        if cp.root == log_roots[cp.size]:
            matched, failing = cp.size, False
            continue
        if log_roots[cp.size] in roots[cp.size]:
            continue  # another checkpoint of this size matches the log: a fork, named as such
        base = links.get((cp.partition, cp.offset))
        if base is not None:  # the proof's nodes are what the checkpoint committed to there
            found = _differing(tp, leaves, base, cp)
            findings += found
            failing = failing or bool(found)
            continue
        if failing:
            continue  # implied by the difference already named below this size
        failing = True
        findings.append(_rewritten(tp, leaves, matched, cp.size, cp, matched))
    longest = max(checkpoints, key=lambda c: (c.size, -c.offset), default=None)
    if longest is not None and longest.size > len(leaves):
        end = leaves.offsets[-1] + 1 if len(leaves) else 0
        findings.append(Finding(
            tp[0], tp[1], end, None, None, Kind.TAIL_DROPPED,
            f"tail dropped: the {longest.where()} covers {longest.size} records, the log has "
            f"{len(leaves)}: {longest.size - len(leaves)} record(s) at the end are gone "
            + ("(deleted, or the topic was recreated without them)" if len(leaves) else
               "(the partition is empty or no longer exists)")))
    return findings


def _rewritten(tp: TP, leaves: PartitionLeaves, first: int, stop: int, cp: Checkpoint,
               matched: int) -> Finding:
    still = f" (the checkpoint of size {matched} still matches)" if matched else ""
    return Finding(tp[0], tp[1], leaves.offsets[first], None, None, Kind.LOG_REWRITTEN,
                   f"records at {_range(leaves, first, stop)} differ from what the "
                   f"{cp.where()} committed to: rewritten or reordered{still}")


def proof_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf range ``[lo, hi)`` each node of an RFC 9162 consistency proof from ``old_size``
    to ``new_size`` is the hash of, in proof order (``SUBPROOF``'s recursion, without hashes).
    Each lies wholly below ``old_size`` or wholly at or above it."""

    def sub(m: int, lo: int, hi: int, *, whole: bool) -> list[tuple[int, int]]:
        n = hi - lo
        if m == n:
            return [] if whole else [(lo, hi)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return [*sub(m, lo, lo + k, whole=whole), (lo + k, hi)]
        return [*sub(m - k, lo + k, hi, whole=False), (lo, lo + k)]

    if not 0 < old_size < new_size:
        return []
    return sub(old_size, 0, new_size, whole=True)


def _differing(tp: TP, leaves: PartitionLeaves, base: Checkpoint, cp: Checkpoint
               ) -> list[Finding]:
    """The records between ``base`` and ``cp`` that differ from what ``cp`` committed to: the
    verified consistency proof holds the hash of each subtree there, compared with the log's."""
    out = []
    for (lo, hi), node in zip(proof_ranges(base.size, cp.size), cp.consistency, strict=False):
        if lo < base.size:
            continue  # below the previous checkpoint: judged against that one
        if tlog.merkle_root([leaves.leaf(i) for i in range(lo, hi)]) != node:
            out.append(_rewritten(tp, leaves, lo, hi, cp, 0))
    return out


def _consistency(checkpoints: list[Checkpoint]
                 ) -> tuple[list[Finding], dict[tuple[int, int], Checkpoint]]:
    """Each checkpoint against the one before it in the log: one append-only history. Also,
    per checkpoint (by its position), the earlier one its verified consistency proof starts at."""
    findings: list[Finding] = []
    links: dict[tuple[int, int], Checkpoint] = {}
    known: dict[int, Checkpoint] = {}
    previous: Checkpoint | None = None
    for cp in checkpoints:
        same = known.get(cp.size)
        if same is not None and same.root != cp.root:
            findings.append(_at(cp, Kind.CHECKPOINT_FORK, (
                f"fork: the {cp.where()} of {cp.origin} has root {_b64(cp.root)[:12]}…, the "
                f"{same.where()} root {_b64(same.root)[:12]}…: two histories of one size")))
        elif previous is not None and cp.size < previous.size:
            findings.append(_at(cp, Kind.CHECKPOINT_FORK, (
                f"fork: the {cp.where()} of {cp.origin} is smaller than the earlier "
                f"{previous.where()}: the log went back")))
        elif previous is not None and cp.size > previous.size:
            base = previous if cp.previous_size is None else known.get(cp.previous_size)
            if base is not None and base.size:
                if tlog.verify_consistency(base.size, cp.size, base.root, cp.root,
                                           list(cp.consistency)):
                    links[(cp.partition, cp.offset)] = base
                else:
                    findings.append(_at(cp, Kind.CHECKPOINT_FORK, (
                        f"fork: the consistency proof from the {base.where()} to the "
                        f"{cp.where()} of {cp.origin} does not verify: not one append-only "
                        "history")))
        known.setdefault(cp.size, cp)
        if previous is None or cp.size >= previous.size:
            previous = cp
    return findings, links


def judge(
    leaves: Mapping[TP, PartitionLeaves],
    starts: Mapping[TP, int],
    judged: Judged,
) -> tuple[list[Finding], Completeness]:
    """Every audited log (``starts``: its first offset) against its checkpoints; a log that
    was checkpointed but whose partition is gone counts as empty."""
    summary = Completeness(checkpoints=judged.read, cosignatures=judged.cosignatures,
                           refusals=judged.refusals, logs=len(starts))
    findings = list(judged.findings)
    gone = {tlog.parse_origin(o) for o in (*judged.checkpoints, *judged.orphans)
            if _is_origin(o)} - set(starts)
    for tp in sorted({*starts, *gone}):
        origin = origin_of(*tp)
        cps = judged.checkpoints.get(origin, [])
        got = leaves.get(tp) or PartitionLeaves()
        summary.valid += len(cps)
        orphans = judged.orphans.get(origin, [])
        if orphans and starts.get(tp, 0) == 0:
            longest = max((c.size for c in cps), default=0)
            findings += judge_orphans(tp, got, orphans,
                                      max(len(got), longest))
        if not cps:
            summary.records_pending += len(got)
            continue
        if starts.get(tp, 0) > 0:
            continue  # the log no longer starts at 0: truncation is reported, roots cannot be
        findings += judge_log(tp, got, cps)
        newest = max(cps, key=lambda c: (c.size, c.offset))
        summary.records_checkpointed += min(newest.size, len(got))
        summary.records_pending += max(len(got) - newest.size, 0)
        for cp in cps:
            sides = judged.sides(cp)
            if sides >= set(SIDES):
                summary.cosigned_both += 1
                continue
            missing = [s.value for s in SIDES if s not in sides]
            findings.append(_at(cp, Kind.COSIGNATURE_MISSING, (
                f"the {cp.where()} of {origin} has no valid cosignature from a "
                f"{' or '.join(missing)}-side witness")))
        summary.heads.append(Head(origin, newest.size, newest.time, len(got),
                                  sorted(s.value for s in judged.sides(newest))))
    log.info("completeness_judged", logs=summary.logs, checkpoints=summary.checkpoints,
             valid=summary.valid, pending=summary.records_pending, findings=len(findings))
    return findings, summary


def _is_origin(origin: str) -> bool:
    try:
        tlog.parse_origin(origin)
    except tlog.TlogError:
        return False
    return True


def no_checkpoints(topic: str, starts: Mapping[TP, int], leaves: Mapping[TP, PartitionLeaves],
                   ) -> tuple[list[Finding], Completeness]:
    """The checkpoints topic is missing (or empty): one warning, nothing proven."""
    summary = Completeness(logs=len(starts), topic_missing=True,
                           records_pending=sum(len(v) for v in leaves.values()))
    return [Finding(topic, 0, 0, None, None, Kind.NO_CHECKPOINTS,
                    "no checkpoints: completeness not proven (no record's inclusion, no tail and "
                    "no order is backed by a cosigned checkpoint)")], summary
