"""A witness: checks each new checkpoint against the last head it cosigned, then cosigns it.

``emining witness run --as ORG`` follows ``emining.checkpoints.v1``. For each checkpoint it
checks, in order:

1. the note is signed by the platform (a trust-anchor key under ``emining-platform``) and the
   record's key is the note's origin (else: ``bad_signature``);
2. against the last head it cosigned for that origin (size ``L``, root ``R``): a smaller size is
   a ``shrink``; the same size with another root, or any size at which it saw another
   platform-signed root, a ``fork``; a larger size must come with a consistency proof from
   ``L``: the record's own when ``previous_size == L``, else chained through the checkpoints it
   saw signed since (each step a proof the platform published); a proof that fails is
   ``bad_proof``. The first checkpoint of an origin is taken on first use.

A checkpoint that passes is cosigned (c2sp.org/tlog-cosignature v1, the organisation's own
Ed25519 key under ``emining-witness/<org URN>``): the new head is written to the state file
(atomically, fsynced) *before* the cosignature is published, and the topic position only after,
so a crash can at worst cosign the same head again, never two different heads of one size.
A refusal is logged, written to the state, and published, signed, on ``emining.refusals.v1``,
from where the platform raises alerts to both sides (``alarms``). A checkpoint whose proof
cannot be chained (nothing to check it against) is skipped with a warning: not cosigned.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from schemas.checkpoints import (
    CheckpointRecord,
    CosignatureRecord,
    Refusal,
    RefusalKind,
    RefusalRecord,
    sha256_hex,
    witness_key_name,
)
from schemas.envelope import KafkaRecord
from schemas.signing import PrivateKey
from schemas.tlog import (
    PLATFORM_KEY_NAME,
    Checkpoint,
    TlogError,
    b64,
    cosign,
    parse_note,
    parse_origin,
    unb64,
    verify_consistency,
    verify_note_signature,
)
from schemas.topics import CHECKPOINTS, COSIGNATURES, REFUSALS
from transport.access import KafkaAccess
from transport.kafka import Record, TopicPartition
from transport.read import follow, read_to_end
from transport.sender import Ack, RecordSender

log = structlog.get_logger("consumers.checkpoints.witness")

_MAX_CHAIN = 10_000
"""Seen heads remembered per origin to chain proofs through."""


class WitnessError(Exception):
    """The witness cannot go on (its state cannot be written, a publish failed)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """A platform-signed head, with the proof it came with."""

    root: bytes
    previous_size: int | None
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    cosign: bool
    kind: RefusalKind | None = None
    detail: str = ""


@dataclass(slots=True)
class WitnessState:
    """What the witness has cosigned (per origin: size, root) and where it is on the topic."""

    heads: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    next_offset: int = 0
    refused: int = 0

    def to_json(self) -> str:
        return json.dumps({
            "heads": {o: {"size": s, "root": b64(r)} for o, (s, r) in sorted(self.heads.items())},
            "next_offset": self.next_offset, "refused": self.refused}, indent=1)

    @classmethod
    def load(cls, path: Path) -> WitnessState:
        if not path.exists():
            return cls()
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        heads = {o: (int(h["size"]), unb64(h["root"])) for o, h in doc["heads"].items()}
        return cls(heads, int(doc["next_offset"]), int(doc.get("refused", 0)))

    def save(self, path: Path) -> None:
        """Atomically: a temporary file, fsynced, renamed over the old one, directory fsynced."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def state_path(state_dir: Path, org: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-." else "-" for c in org.removeprefix("urn:"))
    return state_dir / "witness" / f"{safe}.json"


class Witness:
    """One organisation's witness over the platform's checkpoints."""

    def __init__(self, kafka: KafkaAccess, key: PrivateKey, *, platform_keys: Iterable[bytes],
                 state_dir: Path, checkpoints_topic: str = CHECKPOINTS,
                 cosignatures_topic: str = COSIGNATURES, refusals_topic: str = REFUSALS,
                 timeout_s: float = 15.0, clock: Callable[[], float] = time.time) -> None:
        self.kafka, self.key = kafka, key
        self.org = key.org
        self.key_name = witness_key_name(key.org)
        self.platform_keys = list(platform_keys)
        self.path = state_path(state_dir, key.org)
        self.checkpoints_topic, self.cosignatures_topic = checkpoints_topic, cosignatures_topic
        self.refusals_topic, self.timeout_s, self._clock = refusals_topic, timeout_s, clock
        self.state = WitnessState.load(self.path)
        self.seen: dict[str, dict[int, Seen]] = {}
        self.cosigned = 0
        self._log = log.bind(witness=key.org)

    # -- checking ----------------------------------------------------------------------------

    def _signed(self, note: str) -> bool:
        parsed = parse_note(note)
        return any(verify_note_signature(parsed, PLATFORM_KEY_NAME, k) for k in self.platform_keys)

    def _chain(self, origin: str, old: tuple[int, bytes], size: int, root: bytes,
               previous: int | None, proof: tuple[bytes, ...]) -> bool | None:
        """Is (size, root) consistent with ``old``? None: no proof chain to tell."""
        steps: list[tuple[int, bytes, int | None, tuple[bytes, ...]]] = []
        seen = self.seen.get(origin, {})
        while previous is not None and previous > old[0]:
            step = seen.get(previous)
            if step is None or len(steps) > _MAX_CHAIN:
                return None
            steps.append((size, root, previous, proof))
            size, root, previous, proof = previous, step.root, step.previous_size, step.proof
        if previous != old[0]:
            return None
        steps.append((size, root, previous, proof))
        low_size, low_root = old
        for high_size, high_root, _, high_proof in reversed(steps):
            if not verify_consistency(low_size, high_size, low_root, high_root, high_proof):
                return False
            low_size, low_root = high_size, high_root
        return True

    def judge(self, rec: Record) -> tuple[Verdict, Checkpoint | None]:  # noqa: PLR0911 - a verdict each
        """The verdict on one checkpoint record (no side effect)."""
        try:
            cr = CheckpointRecord.from_value(rec.value)
            cp = cr.checkpoint
            parse_origin(cp.origin)
        except TlogError as exc:
            return Verdict(cosign=False, kind=RefusalKind.BAD_SIGNATURE,
                           detail=f"not a checkpoint: {exc}"), None
        if rec.key != cp.origin.encode() or not self._signed(cr.note):
            return Verdict(cosign=False, kind=RefusalKind.BAD_SIGNATURE,
                           detail="not signed by the platform's key as emining-platform"
                           " (or keyed by another origin)"), cp
        other = self.seen.get(cp.origin, {}).get(cp.size)
        if other is not None and other.root != cp.root:
            return Verdict(cosign=False, kind=RefusalKind.FORK,
                           detail=f"another root was signed for size {cp.size}"), cp
        last = self.state.heads.get(cp.origin)
        if last is None:
            return Verdict(cosign=True, detail="first checkpoint of this origin"), cp
        if cp.size < last[0]:
            return Verdict(cosign=False, kind=RefusalKind.SHRINK,
                           detail=f"size {cp.size} after cosigning size {last[0]}"), cp
        if cp.size == last[0]:
            if cp.root != last[1]:
                return Verdict(cosign=False, kind=RefusalKind.FORK,
                               detail=f"size {cp.size} cosigned with another root"), cp
            return Verdict(cosign=True, detail="the head already cosigned"), cp
        chained = self._chain(cp.origin, last, cp.size, cp.root, cr.previous_size,
                              cr.consistency)
        if chained is None:  # a larger head that cannot be shown to extend the cosigned one
            return Verdict(cosign=False, kind=RefusalKind.BAD_PROOF,
                           detail=f"no consistency proof from the cosigned head of size "
                                  f"{last[0]} (previous_size {cr.previous_size})"), cp
        if not chained:
            return Verdict(cosign=False, kind=RefusalKind.BAD_PROOF,
                           detail=f"not consistent with the head of size {last[0]}"), cp
        return Verdict(cosign=True), cp

    def _remember(self, rec: Record, cp: Checkpoint) -> None:
        cr = CheckpointRecord.from_value(rec.value)
        seen = self.seen.setdefault(cp.origin, {})
        seen.setdefault(cp.size, Seen(cp.root, cr.previous_size, cr.consistency))
        while len(seen) > _MAX_CHAIN:
            seen.pop(min(seen))

    # -- acting ------------------------------------------------------------------------------

    async def _send(self, sender: RecordSender, record: KafkaRecord) -> Ack:
        result = (await sender.send([record]))[0]
        if not isinstance(result, Ack):
            raise WitnessError(f"cannot publish to {record.topic}: {result}")
        return result

    async def handle(self, sender: RecordSender, rec: Record) -> Verdict:
        verdict, cp = self.judge(rec)
        where = f"{rec.topic}:{rec.partition}:{rec.offset}"
        if verdict.cosign and cp is not None:
            self._remember(rec, cp)
            self.state.heads[cp.origin] = (cp.size, cp.root)
            self.state.save(self.path)  # before the cosignature leaves
            line = cosign(cp, self.key_name, self.key.seed, int(self._clock()))
            cosig = CosignatureRecord(cp.origin, cp.size, cp.root, self.org, self.key_name, line)
            ack = await self._send(sender, KafkaRecord(
                self.cosignatures_topic, cp.origin.encode(), cosig.to_value(), []))
            self.cosigned += 1
            self._log.info("checkpoint_cosigned", origin=cp.origin, size=cp.size,
                           root=b64(cp.root), record=where, offset=ack.offset)
        elif verdict.kind is None:
            if cp is not None and self._signed(CheckpointRecord.from_value(rec.value).note):
                self._remember(rec, cp)
            self._log.warning("checkpoint_not_cosigned", record=where, detail=verdict.detail,
                              origin=cp.origin if cp else None, size=cp.size if cp else None)
        else:
            if cp is not None and verdict.kind is not RefusalKind.BAD_SIGNATURE:
                self._remember(rec, cp)
            self.state.refused += 1
            self.state.save(self.path)
            origin = cp.origin if cp is not None else (rec.key or b"?").decode(
                "utf-8", "replace")[:200]
            refusal = Refusal(self.org, origin, verdict.kind, where, sha256_hex(rec.value),
                              int(self._clock()))
            refused = (rec.value or b"").decode("utf-8", "replace")[:20_000]
            record = RefusalRecord.make(refusal, self.key.seed, verdict.detail, refused)
            await self._send(sender, KafkaRecord(self.refusals_topic, origin.encode(),
                                                 record.to_value(), []))
            self._log.error("checkpoint_refused", origin=origin, kind=verdict.kind.value,
                            size=cp.size if cp else None, record=where, detail=verdict.detail)
        self.state.next_offset = rec.offset + 1
        self.state.save(self.path)
        return verdict

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
        """Process the checkpoints after the saved position: to the end (``once``), or on."""
        start = {TopicPartition(self.checkpoints_topic, 0): self.state.next_offset}
        async with RecordSender(self.kafka, timeout_s=self.timeout_s) as sender:
            if once:
                reader = read_to_end(self.kafka, [self.checkpoints_topic], start=start,
                                     timeout_s=self.timeout_s)
            else:
                reader = follow(self.kafka, [self.checkpoints_topic], start=start, stop=stop,
                                timeout_s=self.timeout_s)
            async with aclosing(reader) as batches:
                async for batch in batches:
                    for rec in batch:
                        await self.handle(sender, rec)
