"""``audit replay``: the views rebuilt from offset zero into a scratch store, as of a moment.

No second copy of view logic: records go through the live consumer's own verification stage and
``ViewSync`` (``consumers.verification``, ``consumers.sync``, the projections of
``consumers.views``) into a ``ViewStore`` of their own, and the digest is ``consumers.digest``'s.

"As of T" is bitemporal, because "what did the platform look like on 1 March" is a question
about what the platform knew: each partition (the participants topic included, so keys and
authorities are as registered then) is read only up to the first record the broker appended
after T, found with the broker's time index, and of those, events whose own time is after T are
left out. For a consumer that was keeping up, that is exactly the live view at T. With
``include_late``, events appended later but dated up to T (a backfill) count as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from consumers.audit.feeder import Feeder
from consumers.audit.pool import default_workers
from consumers.audit.records import AuditTopics, RawRecord
from consumers.audit.snapshot import TP, LogReader, Snapshot
from consumers.audit.verify import PARALLEL_FROM, fold_registry
from consumers.digest import Digest, digest
from consumers.dlq import DeadLetterQueue
from consumers.holding import held_records
from consumers.store import ViewStore
from consumers.sync import ViewSync
from consumers.verification import Rejected, VerificationStage
from consumers.verify_pool import VerifyPool
from schemas.registry import Registry
from schemas.timing import TimeBounds
from transport.access import KafkaAccess
from transport.kafka import TopicPartition

log = structlog.get_logger("consumers.audit.replay")

FETCH_BYTES = 256 * 1024
"""The most one fetch takes of one partition. The merge (``LogReader.read_merged``) queues about
one fetch per partition and aiokafka prefetches one more: small fetches keep that small."""


class FixedRegistry:
    """The registry as of the cut: a ``RegistrySource`` that has nothing newer to fetch."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def refresh(self, *, force: bool = True) -> bool:  # noqa: ARG002 - protocol signature
        return False


class RecordedRejections(DeadLetterQueue):
    """Keeps every rejection for the replay's result instead of sending it anywhere."""

    def __init__(self) -> None:
        super().__init__(None, "audit-replay", "audit-replay")
        self.rejected: list[tuple[str, int, int, Rejected]] = []

    async def send(self, letters: Sequence[Any]) -> None:
        for letter in letters:
            r = letter.record
            self.rejected.append((r.topic, r.partition, r.offset, letter.rejection))


class WholeLog:
    """The partition control of a replay: it owns every partition and never needs to seek."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._end = snapshot.end
        self._owned = {TopicPartition(t, p) for (t, p) in snapshot.end}
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return self._owned

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._end.get((partition.topic, partition.partition))


@dataclass(slots=True)
class ReplayResult:
    digest: Digest
    records: int = 0
    """Records read up to the cut."""
    applied: int = 0
    rejected: int = 0
    skipped: int = 0
    """Records read but left out: another subject, or dated after ``as_of``."""
    seconds: float = 0.0
    as_of: datetime | None = None
    subject: str | None = None
    cut: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per topic and partition, the offset the replay read up to."""
    later: int = 0
    """Records on the log after the cut (appended after ``as_of``)."""
    rejections: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    """Records held back at the end (``consumers.holding``): a gap or fork in their chain."""

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest.sha256, "rows": self.digest.rows, "records": self.records,
            "applied": self.applied, "rejected": self.rejected, "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.records / self.seconds) if self.seconds else 0,
            "as_of": self.as_of.isoformat() if self.as_of else None, "subject": self.subject,
            "cut": {t: {str(p): o for p, o in ps.items()} for t, ps in sorted(self.cut.items())},
            "later": self.later, "rejections": self.rejections, "held": self.held,
        }


def _event_time(record: RawRecord) -> datetime | None:
    for name, raw in record.headers:
        if name == "ce_time" and raw is not None:
            try:
                return datetime.fromisoformat(raw.decode())
            except (UnicodeDecodeError, ValueError):
                return None  # the verification stage says what is wrong with it
    return None


def _keep(record: RawRecord, as_of: datetime | None, subject: bytes | None) -> bool:
    if subject is not None and record.key != subject:
        return False
    if as_of is None:
        return True
    moment = _event_time(record)
    return moment is None or moment <= as_of


def _started(pool: VerifyPool) -> VerifyPool | None:
    """``pool`` with its worker starting, or ``None`` (verify in this process) if it cannot
    start one (no file descriptors, no memory, no processes left)."""
    try:
        pool.start()
    except Exception as exc:  # noqa: BLE001 - any reason: the replay verifies in-process
        log.warning("replay_worker_not_started", error=repr(exc)[:300])
        pool.close(grace_s=0.0)
        return None
    return pool


def _in_worker(workers: int | None, records: int) -> bool:
    if workers is not None:
        return workers > 0
    return records >= PARALLEL_FROM and default_workers() > 1


async def _cut(reader: LogReader, snapshot: Snapshot, as_of: datetime | None,
               include_late: bool) -> dict[TP, int]:
    if as_of is None or include_late:
        return dict(snapshot.end)
    return await reader.offsets_at(snapshot, as_of + timedelta(milliseconds=1))


async def replay(
    kafka: KafkaAccess,
    trust_anchor: Iterable[bytes],
    store_url: str,
    *,
    topics: AuditTopics | None = None,
    as_of: datetime | None = None,
    subject: str | None = None,
    include_late: bool = False,
    timeout_s: float = 15.0,
    on_progress: Callable[[int, int], None] | None = None,
    time_bounds: TimeBounds | None = None,
    workers: int | None = None,
    worker_setup: Callable[[], object] | None = None,
) -> ReplayResult:
    """Rebuild the views into the (empty) store at ``store_url`` and digest them.

    ``workers``: 0 verifies every record in this process; any other number verifies them in
    one worker process while this one applies (the fold is sequential: more would wait);
    ``None`` does so from ``verify.PARALLEL_FROM`` records on (below, the worker's start
    costs more than it saves), given a second core. ``worker_setup`` runs first in that worker
    (the composition root passes its logging setup)."""
    topics = topics or AuditTopics()
    anchors = list(trust_anchor)
    progress = on_progress or (lambda _done, _total: None)
    started = time.perf_counter()
    wanted = subject.encode() if subject is not None else None
    store = ViewStore(store_url, inline=True)
    pool: VerifyPool | None = None
    try:
        await store.open()
        async with LogReader(kafka, timeout_s=timeout_s, partition_fetch_bytes=FETCH_BYTES
                             ) as reader:
            snapshot = await reader.snapshot(topics.all)
            cut = await _cut(reader, snapshot, as_of, include_late)
            registry_records: list[RawRecord] = []
            async for batch in reader.read(snapshot, [topics.participants], stop=cut):
                registry_records.extend(batch)
            registry, _, _ = fold_registry(registry_records, anchors, topics)
            mapping = {topics.actual(c): c for c in map(topics.canonical, topics.shared) if c}
            stage = VerificationStage(FixedRegistry(registry), anchors, mapping,
                                      snapshot.partition_counts(), time_bounds)
            total = sum(cut[tp] - snapshot.start[tp] for tp in cut if tp[0] in topics.shared)
            if _in_worker(workers, total):
                pool = _started(VerifyPool(anchors, mapping, snapshot.partition_counts(),
                                           time_bounds or TimeBounds(), worker_setup))
            dead = RecordedRejections()
            # A replay of one subject or up to a moment leaves out records of the same sources
            # on purpose: their chains are judged by `audit verify`, not held here.
            sync = ViewSync(store, stage, dead, chains=as_of is None and subject is None)
            control = WholeLog(snapshot)
            result = ReplayResult(digest=Digest("", {}), as_of=as_of, subject=subject)
            feeder = Feeder(sync, control, snapshot.start,
                            None if pool is None else (pool, registry))
            # In the order the log was written: a source's chain crosses partitions, and read
            # partition after partition, most events would wait, held, for their predecessor.
            async for batch in reader.read_merged(snapshot, topics.shared, stop=cut):
                result.records += len(batch)
                kept = [r for r in batch if _keep(r, as_of, wanted)]
                result.skipped += len(batch) - len(kept)
                await feeder.add(kept)
                progress(result.records, total)
            await feeder.flush()
            result.applied, result.rejected = feeder.applied, feeder.rejected
        if control.seeks:
            log.error("replay_seek_requested", seeks=len(control.seeks))
        result.digest = await digest(store)
        async with store.reading() as (conn, tables):
            result.held = [{"topic": h["topic"], "partition": h["log_partition"],
                            "offset": h["log_offset"], "reason": h["reason"],
                            "source": h["source"], "sequence": h["sequence"],
                            "event_id": h["event_id"], "subject": h["subject"]}
                           for h in await held_records(conn, tables)]
    finally:
        if pool is not None:
            pool.close()
        await store.close()
    result.seconds = time.perf_counter() - started
    result.cut = Snapshot(snapshot.start, cut).by_topic()
    result.later = sum(snapshot.end[tp] - cut[tp] for tp in cut)
    result.rejections = [
        {"topic": t, "partition": p, "offset": o, "reason": why.reason.value,
         "detail": why.detail, "event_id": why.event_id, "source": why.source}
        for t, p, o, why in dead.rejected
    ]
    log.info("audit_replayed", records=result.records, applied=result.applied,
             rejected=result.rejected, digest=result.digest.sha256, seconds=round(
                 result.seconds, 2))
    return result
