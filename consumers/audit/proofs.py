"""``audit prove``: an inclusion proof of one event against the newest cosigned checkpoint, in a
JSON document that ``docs/verify_proof.py`` checks with stock libraries only."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from consumers.audit.completeness import SIDES
from consumers.audit.cosigned import PLATFORM_KEY_NAME, Checkpoint, Judged, Valid
from consumers.audit.leaves import PartitionLeaves, leaves_of, origin_of, roots_at
from consumers.audit.records import AuditError, AuditTopics, RawRecord
from consumers.audit.snapshot import LogReader, Snapshot
from consumers.audit.tlogread import read_judged
from consumers.audit.verify import fold_registry
from producers.log_lookup import find_ids
from schemas import tlog
from schemas.alerts import PLATFORM_ORG
from schemas.registry import Registry
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaError

log = structlog.get_logger("consumers.audit.proofs")

PROOF_FORMAT = "emining-inclusion-proof/v1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ProofError(AuditError):
    """No proof can be made (the event is not on the log, no checkpoint covers it yet, ...)."""


@dataclass(frozen=True, slots=True)
class Choice:
    """The checkpoint a proof leads to, and which sides are missing from its cosignatures."""

    checkpoint: Checkpoint
    cosigned: list[Valid]
    missing: list[str]


def choose(checkpoints: list[Checkpoint], judged: Judged, leaves: PartitionLeaves,
           index: int) -> Choice:
    """The newest checkpoint covering leaf ``index`` whose root is the log's (a proof against
    any other could not verify), cosigned by both sides if one is; else the newest."""
    log_roots = roots_at(leaves, (cp.size for cp in checkpoints if cp.size > index))
    fitting = [cp for cp in checkpoints if log_roots.get(cp.size) == cp.root]
    if not fitting:
        newest = max((c.size for c in checkpoints), default=0)
        if newest <= index:
            raise ProofError(f"no checkpoint covers this record yet (leaf {index}; the newest "
                             f"checkpoint of its log has size {newest}): wait for the next one")
        raise ProofError("no checkpoint covering this record matches the log: run `emining "
                         "audit verify` (the log was altered since it was checkpointed)")
    both = [cp for cp in fitting if judged.sides(cp) >= set(SIDES)]
    best = max(both or fitting, key=lambda c: (c.size, c.offset))
    sides = judged.sides(best)
    return Choice(best, judged.cosigned.get((best.origin, best.size, best.root), []),
                  [s.value for s in SIDES if s not in sides])


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def proof_document(record: RawRecord, event_id: str, index: int, leaves: PartitionLeaves,
                   choice: Choice, platform_key: bytes, registry: Registry | None,
                   ) -> dict[str, Any]:
    """The proof as JSON: the leaf's fields, its path, the checkpoint, the cosignatures and the
    keys (for reference: a verifier should bring its own)."""
    cp = choice.checkpoint
    path = tlog.inclusion_proof(leaves.all()[: cp.size], index)
    names = registry.orgs if registry is not None else {}

    def name_of(org: str) -> str:
        found = names.get(org)
        return found.names.get("en", org) if found is not None else org

    witnesses: dict[tuple[str, str], dict[str, Any]] = {}
    for v in choice.cosigned:
        witnesses.setdefault((v.witness, v.key_name), {
            "org": v.witness, "name": name_of(v.witness), "side": v.side.value,
            "key_name": v.key_name, "public_key": _b64(v.public_key),
            "key_id": tlog.note_key_id(v.key_name, v.public_key,
                                       tlog.SIG_TYPE_COSIGNATURE_V1).hex()})
    return {
        "format": PROOF_FORMAT,
        "event_id": event_id,
        "leaf": {
            "topic": record.topic, "partition": record.partition, "offset": record.offset,
            "timestamp_ms": record.timestamp_ms, "key": _b64(record.key),
            "value": _b64(record.value),
            "headers": [[name, _b64(value)] for name, value in record.headers],
        },
        "leaf_hash": _b64(leaves.leaf(index)),
        "leaf_index": index,
        "tree_size": cp.size,
        "inclusion_path": [_b64(p) for p in path],
        "checkpoint": {"origin": cp.origin, "size": cp.size, "root": _b64(cp.root),
                       "time": cp.time, "note": cp.note},
        "cosignatures": [
            {"witness": v.witness, "name": name_of(v.witness), "side": v.side.value,
             "key_name": v.key_name, "time": v.time.isoformat(), "line": v.line}
            for v in choice.cosigned],
        "missing_sides": choice.missing,
        "keys": {
            "platform": {"org": PLATFORM_ORG, "key_name": PLATFORM_KEY_NAME,
                         "public_key": _b64(platform_key),
                         "key_id": tlog.note_key_id(PLATFORM_KEY_NAME, platform_key).hex()},
            "witnesses": list(witnesses.values()),
        },
    }


async def locate(kafka: KafkaAccess, event_id: str, topics: AuditTopics, *, timeout_s: float
                 ) -> tuple[str, int, int]:
    wanted: Mapping[str, set[str]] = {t: {event_id} for t in topics.all}
    try:
        found = await find_ids(kafka, wanted, EPOCH, timeout_s=timeout_s, in_doubt=False)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise AuditError(f"searching for {event_id} failed on {kafka.bootstrap}: "
                         f"{refusal(exc, kafka, 'READ of the shared topics') or repr(exc)}"
                         ) from exc
    if event_id not in found:
        raise ProofError(f"event {event_id} is not on {', '.join(topics.all)}")
    return found[event_id]


async def prove(kafka: KafkaAccess, event_id: str, anchors: list[bytes], *,
                topics: AuditTopics | None = None, timeout_s: float = 15.0) -> dict[str, Any]:
    """The inclusion proof of event ``event_id`` (its ``ce_id``) as a JSON document."""

    topics = topics or AuditTopics()
    topic, partition, offset = await locate(kafka, event_id, topics, timeout_s=timeout_s)
    async with LogReader(kafka, timeout_s=timeout_s) as reader:
        snapshot = await reader.snapshot(topics.all)
        registry_records = [r async for batch in reader.read(snapshot, [topics.participants])
                            for r in batch]
        tp = (topic, partition)
        if snapshot.start[tp] > 0:
            raise ProofError(f"{topic}[{partition}] no longer starts at offset 0: no proof")
        only = Snapshot(start={tp: 0}, end={tp: snapshot.end[tp]})
        records = registry_records if topic == topics.participants else [
            r async for batch in reader.read(only, [topic]) for r in batch]
    registry, _, _ = fold_registry(registry_records, anchors, topics)
    mine = [r for r in records if (r.topic, r.partition) == tp]
    leaves = leaves_of(mine)[tp]
    index = next((i for i, o in enumerate(leaves.offsets) if o == offset), None)
    if index is None:
        raise ProofError(f"{topic}[{partition}] offset {offset} is not on the log any more")
    origin = origin_of(topic, partition)
    judged = await read_judged(kafka, topics, anchors, registry, {origin}.__contains__,
                               timeout_s=timeout_s)
    if judged is None:
        raise ProofError(f"no checkpoints topic ({topics.checkpoints}): nothing to prove against")
    choice = choose(judged.checkpoints.get(origin, []), judged, leaves, index)
    signer = next(k for k in anchors if tlog.verify_note_signature(
        choice.checkpoint.note, PLATFORM_KEY_NAME, k))
    log.info("proof_made", event_id=event_id, origin=origin, index=index,
             size=choice.checkpoint.size, missing=choice.missing)
    return proof_document(mine[index], event_id, index, leaves, choice, signer, registry)
