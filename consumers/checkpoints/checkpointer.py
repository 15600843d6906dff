"""The checkpointer: a Merkle tree per partition, signed heads on ``emining.checkpoints.v1``.

It reads every partition of the checkpointed topics (the shared record and the registry) from
offset 0, appends one leaf per record (``schemas.tlog.record_leaf``: topic, partition, offset,
broker timestamp, key, value, headers), and every ``every_seconds`` or ``every_records`` new
records publishes, for each partition whose log grew, a checkpoint signed with the platform
operator's key, with the consistency proof from its previous checkpoint of that origin.

Safety: on start it reads its own checkpoints first. A log that no longer extends its last
checkpoint (fewer records than it signed: a dropped tail or a recreated topic; or another root
at that size: rewritten records) is never checkpointed again: it logs an error and raises the
alarm. It never publishes two heads of one size with different roots, nor a head smaller than
its last, for an origin; after a send without acknowledgement it reads its checkpoints again
before the next publish (the record may have landed). The producer is idempotent.

It also relays the witnesses' refusals (``emining.refusals.v1``) as platform alerts, after
checking each refusal's signature against the witness organisation's keys in the registry
(``consumers.checkpoints.relay``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from itertools import groupby

import structlog

from consumers.checkpoints.alarms import Alarm, AlarmSink
from consumers.checkpoints.relay import RefusalRelay, RegistryLoader
from schemas.checkpoints import CheckpointRecord, RefusalKind
from schemas.envelope import KafkaRecord
from schemas.errors import EminingError
from schemas.signing import PrivateKey
from schemas.tlog import (
    PLATFORM_KEY_NAME,
    Checkpoint,
    MerkleLog,
    PartitionLeaves,
    TlogError,
    b64,
    open_checkpoint,
    origin_for,
    record_leaf,
    sign_checkpoint,
    verify_consistency,
)
from schemas.topics import CHECKPOINTED_TOPICS, CHECKPOINTS, REFUSALS
from transport.access import KafkaAccess
from transport.kafka import Consumer, KafkaError, Record
from transport.read import (
    assign_at,
    drain,
    opened,
    poll,
    read_to_end,
    topic_partitions,
)
from transport.sender import Ack, RecordSender

log = structlog.get_logger("consumers.checkpoints.checkpointer")

FETCH_OPTIONS = {"fetch_min_bytes": 256 * 1024, "fetch_max_wait_ms": 500,
                 "max_partition_fetch_bytes": 8 * 1024 * 1024,
                 "fetch_max_bytes": 64 * 1024 * 1024}
"""Few, large fetches: the broker answers when 256 KiB are there or after half a second (the
cadence bounds the checkpoints' latency anyway), so following a busy publisher costs a fetch
per few hundred records, not per handful."""


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    root: bytes


@dataclass(slots=True)
class PartitionLog:
    leaves: PartitionLeaves
    tree: MerkleLog = field(default_factory=MerkleLog)
    next_offset: int = 0


def leaf_of(rec: Record) -> bytes:
    """The leaf data of a record as the consumer sees it (``PartitionLeaves`` makes the same
    bytes faster)."""
    return record_leaf(rec.topic, rec.partition, rec.offset, rec.timestamp, rec.key, rec.value,
                       [(k, v) for k, v in rec.headers])


def _partition_of(rec: Record) -> tuple[str, int]:
    return rec.topic, rec.partition


class Checkpointer:
    """Builds the per-partition logs and publishes their signed heads."""

    def __init__(self, kafka: KafkaAccess, key: PrivateKey, *,
                 topics: Sequence[str] = CHECKPOINTED_TOPICS,
                 checkpoints_topic: str = CHECKPOINTS, refusals_topic: str = REFUSALS,
                 every_seconds: float = 10.0, every_records: int = 1000,
                 timeout_s: float = 15.0, alarm: AlarmSink | None = None,
                 registry: RegistryLoader | None = None,
                 clock: Callable[[], float] = time.time,
                 anchors: Sequence[bytes] = ()) -> None:
        self.kafka, self.key, self.topics = kafka, key, tuple(topics)
        self.anchors = (key.public_key, *(k for k in anchors if k != key.public_key))
        """The trust anchor's keys: the proofs link to the last checkpoint signed by any (a
        rotated key's heads included), so that a witness can chain them."""
        self.checkpoints_topic, self.refusals_topic = checkpoints_topic, refusals_topic
        self.every_seconds, self.every_records = every_seconds, every_records
        self.timeout_s, self._alarm, self._clock = timeout_s, alarm, clock
        self.logs: dict[str, PartitionLog] = {}
        self.published: dict[str, Head] = {}
        """The largest head this key signed per origin (from the topic, then as published)."""
        self.signed: dict[str, dict[int, bytes]] = {}
        """Every head this key signed per origin and size (a fork shows as two roots)."""
        self.halted: dict[str, str] = {}
        """Origins never checkpointed again, and why."""
        self._reload = False
        self._alarmed: set[str] = set()
        self.relay = RefusalRelay(kafka, self._raise, checkpoints_topic=checkpoints_topic,
                                  refusals_topic=refusals_topic, timeout_s=timeout_s,
                                  registry=registry, clock=clock)
        """The witnesses' refusals relayed as alarms (its own state: what was read, when)."""
        self.rewound: list[Alarm] = []
        """Alarms ``append`` found in live mode, raised by the loop."""

    # -- reading ---------------------------------------------------------------------------

    async def load_published(self) -> None:
        """Read the trust anchor's checkpoints from the topic: the last head per origin."""
        self.published.clear()
        self.signed.clear()
        forks: list[Alarm] = []
        async with aclosing(read_to_end(self.kafka, [self.checkpoints_topic],
                                        timeout_s=self.timeout_s)) as batches:
            async for batch in batches:
                for rec in batch:
                    cp = self._open(rec)
                    if cp is None:
                        continue
                    sizes = self.signed.setdefault(cp.origin, {})
                    if sizes.setdefault(cp.size, cp.root) != cp.root:
                        forks.append(Alarm(
                            cp.origin, RefusalKind.FORK, self.key.org,
                            f"{rec.topic}:{rec.partition}:{rec.offset}", cp.size, cp.size,
                            "two checkpoints of this size with different roots, both signed"
                            " with the platform's key"))
                    head = self.published.get(cp.origin)
                    if head is None or cp.size > head.size:
                        self.published[cp.origin] = Head(cp.size, cp.root)
        for alarm in forks:
            self.halted[alarm.origin] = "forked checkpoints on the topic"
            log.error("checkpoints_forked", origin=alarm.origin, size=alarm.size)
        await self._raise(forks)
        self._reload = False

    def _open(self, rec: Record) -> Checkpoint | None:
        """The checkpoint of a record signed by one of the anchors' keys, else None (logged)."""
        try:
            note = CheckpointRecord.from_value(rec.value).note
        except TlogError as exc:
            log.warning("checkpoint_record_ignored", offset=rec.offset, reason=str(exc)[:200])
            return None
        for key in self.anchors:
            try:
                return open_checkpoint(note, PLATFORM_KEY_NAME, key)
            except TlogError:
                continue
        log.warning("checkpoint_record_ignored", offset=rec.offset,
                    reason="not signed by a trust-anchor key")
        return None

    def append(self, records: Sequence[Record], *, live: bool = False) -> int:
        """Append records (in offset order per partition); returns how many were new.

        ``live``: the consumer never seeks back, so a record below the next offset means the
        partition's offsets started again (the topic was deleted and recreated): that log is
        halted and the alarm raised (``rewound``)."""
        return sum(self.append_partition(topic, partition, list(group), live=live)
                   for (topic, partition), group in groupby(records, _partition_of))

    def append_partition(self, topic: str, partition: int, records: Sequence[Record], *,
                         live: bool = False) -> int:
        """``append`` for records of one partition (a fetch hands them over that way): one
        leaf hash per record, no per-record logging; the tree hashes its subtrees when a
        checkpoint asks for its root."""
        origin = origin_for(topic, partition)
        plog = self.logs.get(origin)
        if plog is None:
            plog = self.logs[origin] = PartitionLog(PartitionLeaves(topic, partition))
        if not records:
            return 0
        leaf = plog.leaves.leaf_hash
        if records[0].offset >= plog.next_offset:  # the usual case: all new, in order
            plog.tree.extend([leaf(r.offset, r.timestamp, r.key, r.value, r.headers)
                              for r in records])
            plog.next_offset = records[-1].offset + 1
            return len(records)
        added = 0
        for rec in records:
            if rec.offset < plog.next_offset:
                if live and origin not in self.halted:
                    detail = (f"offset {rec.offset} after offset {plog.next_offset - 1}: the"
                              " partition was recreated")
                    self.halted[origin] = detail
                    log.error("log_rewound", origin=origin, offset=rec.offset,
                              size=plog.tree.size)
                    self.rewound.append(Alarm(
                        origin, RefusalKind.SHRINK, self.key.org,
                        f"checkpointer:{origin}:rewound:{plog.tree.size}:{rec.offset}",
                        None, plog.tree.size, detail))
                continue  # fetched again: already a leaf
            plog.tree.extend([leaf(rec.offset, rec.timestamp, rec.key, rec.value, rec.headers)])
            plog.next_offset = rec.offset + 1
            added += 1
        return added

    def check_against_published(self) -> list[Alarm]:
        """Origins whose rebuilt log no longer extends the last checkpoint: halted, alarms."""
        alarms = []
        for origin, head in sorted(self.published.items()):
            if origin in self.halted:
                continue
            plog = self.logs.get(origin)
            size = plog.tree.size if plog is not None else 0
            if size < head.size:
                kind, detail = RefusalKind.SHRINK, (
                    f"the partition has {size} records, the last checkpoint signed {head.size}")
            elif plog is not None and plog.tree.root(head.size) != head.root:
                kind, detail = RefusalKind.BAD_PROOF, (
                    f"the first {head.size} records no longer hash to the signed root")
            else:
                continue
            self.halted[origin] = detail
            log.error("log_inconsistent_with_checkpoint", origin=origin, kind=kind.value,
                      size=size, checkpoint_size=head.size, detail=detail)
            alarms.append(Alarm(origin, kind, self.key.org,
                                f"checkpointer:{origin}:{kind.value}:{head.size}:{size}",
                                size, head.size, detail))
        return alarms

    # -- publishing ------------------------------------------------------------------------

    def due(self) -> list[tuple[str, CheckpointRecord, Checkpoint]]:
        """The checkpoint records to publish now: each origin whose log grew."""
        out = []
        now = int(self._clock())
        for origin, plog in sorted(self.logs.items()):
            size = plog.tree.size
            head = self.published.get(origin)
            if origin in self.halted or size == 0 or (head is not None and size <= head.size):
                continue
            root = plog.tree.root()
            known = self.signed.get(origin, {}).get(size)
            if known is not None and known != root:  # never two heads of one size
                self.halted[origin] = "a head of this size with another root was signed before"
                log.error("checkpoint_refused_fork", origin=origin, size=size)
                continue
            proof: list[bytes] = []
            previous = None
            if head is not None:
                previous = head.size
                proof = plog.tree.consistency_proof(head.size)
                if not verify_consistency(head.size, size, head.root, root, proof):
                    self.halted[origin] = "the log does not extend its last checkpoint"
                    log.error("checkpoint_refused_inconsistent", origin=origin, size=size)
                    continue
            cp = Checkpoint(origin, size, root)
            note = sign_checkpoint(cp, self.key.seed)
            out.append((origin, CheckpointRecord(note, now, previous, tuple(proof)), cp))
        return out

    async def publish(self, sender: RecordSender) -> int:
        """Publish the due checkpoints; returns how many were acknowledged."""
        if self._reload:
            await self.load_published()
            await self._raise(self.check_against_published())
        due = self.due()
        if not due:
            return 0
        records = [KafkaRecord(self.checkpoints_topic, origin.encode(), rec.to_value(), [])
                   for origin, rec, _ in due]
        results = await sender.send(records)
        done = 0
        for (origin, _, cp), result in zip(due, results, strict=True):
            if not isinstance(result, Ack):
                self._reload = True
                log.error("checkpoint_not_published", origin=origin, size=cp.size,
                          error=str(result)[:300])
                continue
            self.published[origin] = Head(cp.size, cp.root)
            self.signed.setdefault(origin, {})[cp.size] = cp.root
            done += 1
            log.info("checkpoint_published", origin=origin, size=cp.size, root=b64(cp.root),
                     offset=result.offset)
        return done

    # -- refusals (``consumers.checkpoints.relay``) ------------------------------------------

    async def relay_refusals(self, consumer: Consumer | None = None) -> int:
        """Raise the alarm for each new, validly signed witness refusal; returns how many
        (:meth:`RefusalRelay.relay_refusals`)."""
        return await self.relay.relay_refusals(consumer)

    async def _raise(self, alarms: Sequence[Alarm]) -> None:
        new = [a for a in alarms if a.cause_key not in self._alarmed]
        if not new:
            return
        for alarm in new:
            log.error("log_alarm", origin=alarm.origin, kind=alarm.kind.value,
                      reporter=alarm.reporter, cause=alarm.cause_key)
        if self._alarm is not None:
            await self._alarm(new)
        self._alarmed.update(a.cause_key for a in new)

    # -- the loop --------------------------------------------------------------------------

    async def run(self, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
        """Catch up from offset 0, check, publish; then (unless ``once``) follow and publish
        every ``every_seconds`` or ``every_records`` new records, until ``stop``."""
        await self.load_published()
        tps = await topic_partitions(self.kafka, self.topics, timeout_s=self.timeout_s)
        # earliest: after a topic is recreated under it, the consumer starts the new one from
        # its first offset, which ``append`` sees go back
        async with opened(self.kafka, self.timeout_s, auto_offset_reset="earliest",
                          **FETCH_OPTIONS) as consumer, \
                opened(self.kafka, self.timeout_s) as refusals, \
                RecordSender(self.kafka, timeout_s=self.timeout_s) as sender:
            ends = await assign_at(consumer, tps, timeout_s=self.timeout_s)
            async with aclosing(drain(consumer, ends, timeout_s=self.timeout_s)) as batches:
                async for batch in batches:
                    self.append(batch)
            await self._raise(self.check_against_published())
            await self.publish(sender)
            refusal_tps = await topic_partitions(self.kafka, [self.refusals_topic],
                                                 timeout_s=self.timeout_s)
            await assign_at(refusals, refusal_tps,
                            start=dict.fromkeys(refusal_tps, self.relay.next_offset),
                            timeout_s=self.timeout_s)
            await self.relay.relay_or_log(refusals)
            if once:
                return
            consumer.resume(*tps)
            loop = asyncio.get_running_loop()
            last = loop.time()
            pending = 0
            while stop is None or not stop.is_set():
                for tp, records in await poll(consumer, 250):
                    pending += self.append_partition(tp.topic, tp.partition, records, live=True)
                if self.rewound:
                    alarms, self.rewound = self.rewound, []
                    await self._raise(alarms)
                if loop.time() - last >= self.every_seconds or pending >= self.every_records:
                    try:
                        await self.publish(sender)
                    except (KafkaError, OSError, TimeoutError, EminingError) as exc:
                        # the broker is away: what was not published is due next round
                        log.warning("checkpoint_round_failed", error=repr(exc)[:300])
                    await self.relay.relay_or_log(refusals)
                    last, pending = loop.time(), 0
