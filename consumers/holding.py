"""Order-independent views: each source's chain is checked across partitions before it counts.

A source writes to many partitions (its subjects' ones), so a consumer reading them in whatever
interleaving sees a source's events in no set order. The views must not depend on that order:

- **Chain stage.** A record counts only once every earlier sequence of its source has been read
  and its ``prevhash`` links to the one before (``Chain``). A record whose predecessors are not
  there yet is *held* (``sequence_gap``) and released, in sequence order, when the gap fills. A
  record that does not link is refused (``hash_chain_broken``).
- **Forks.** Two different events of one source with the same sequence (the second necessarily
  in another partition: a partition's own order is judged on reading) quarantine the source
  from that sequence on: both branches and every later record of the source are held
  (``fork``). What the first branch already changed is undone: each subject it touched is
  folded again from its history before that record, and what followed there is held.
- **Subject stage.** A subject's events all lie in one partition (``wrong_partition`` is
  refused), so its history is applied in offset order: a record behind a held one on the same
  subject is held too (``behind``) and released right after it.

So every subject's history is applied in log order, and each decision depends only on what
comes before in that history and on the complete prefix of each source's chain: any
interleaving of the partitions gives the same views (``tests/unit/views/test_interleaving.py``).

Held records are kept in the store (``held``), with the record, until released. A fork raises a
security alert at once, to the platform and the source's organisation; a gap does when the
consumer has caught up with every partition it reads, the other consumers of the store with
theirs, and the gap is still open. Several consumer processes may write one store: each batch
takes the store's batch lock (``lock_batches``) first, so release and undo see every batch
committed before theirs, whichever process wrote it.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import (
    BigInteger,
    Text,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.fold import Fold, Position
from consumers.store_batch import dialect_insert, entry_of
from consumers.store_schema import Tables, views_meta
from consumers.verification import Accepted, RawRecord, RefusedEvent, Rejected, Verdict
from consumers.views.models import TimelineEntry
from schemas.envelope import Envelope, format_time
from schemas.envelope_read import from_record
from schemas.signing import GENESIS_HASH
from schemas.timing import appended_at

log = structlog.get_logger("consumers.holding")

LOAD_ALL = 20_000
"""Up to this many held records, a batch reads them all at once (the common case: records
waiting a batch or two for their predecessors while a consumer catches up); beyond, it reads
those of its sources and subjects only."""


class Hold(StrEnum):
    GAP = "sequence_gap"
    FORK = "fork"
    BEHIND = "behind"
    LINK = "link_only"
    """A refused (dead-lettered) authentic record waiting for its predecessors only to pass on
    its place in the chain: it blocks no subject and is never applied."""


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(..., separators=(",", ":"))`` without building an encoder per call."""


def _b64(raw: bytes | None) -> str | None:
    """``base64.b64encode(raw).decode()``, one call shorter (once per header of each record)."""
    return None if raw is None else binascii.b2a_base64(raw, newline=False).decode()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as kept in the store (shaped like aiokafka's ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int = -1
    timestamp_type: int = -1

    def dumps(self, *, value: bool = True) -> str:
        """JSON; ``value=False`` leaves the value out (the timeline keeps the data already)."""
        return _COMPACT.encode({"topic": self.topic, "key": _b64(self.key),
                                "value": _b64(self.value) if value else None,
                                "headers": [[k, _b64(v)] for k, v in self.headers],
                                "ts": self.timestamp, "tt": self.timestamp_type})

    @classmethod
    def loads(cls, text: str, partition: int, offset: int,
              value: bytes | None = None) -> StoredRecord:
        """The record back; ``value`` where it was stored without (the signed data: the
        signature covers its canonical form, so these bytes verify as the original did)."""
        doc = json.loads(text)

        def raw(value: str | None) -> bytes | None:
            return None if value is None else base64.b64decode(value)
        return cls(doc["topic"], partition, offset, raw(doc["key"]),
                   raw(doc["value"]) if doc["value"] is not None else value,
                   tuple((k, raw(v)) for k, v in doc["headers"]), doc["ts"], doc["tt"])

    @classmethod
    def of(cls, record: RawRecord) -> StoredRecord:
        return cls(record.topic, record.partition, record.offset, record.key, record.value,
                   tuple(record.headers), getattr(record, "timestamp", -1),
                   getattr(record, "timestamp_type", -1))


@dataclass(slots=True)
class Chain:
    """Where a source's chain stands: every sequence up to ``head`` read and linked."""

    head: int = 0
    head_hash: str = GENESIS_HASH
    forked_at: int | None = None
    """The sequence from which the source is quarantined (two events claimed it)."""


@dataclass(slots=True, eq=False)
class Held:
    record: StoredRecord
    source: str
    sequence: int
    subject: str
    event_id: str
    reason: Hold
    alerted: bool = False
    held_at: datetime | None = None
    """When the record was first held (the store's ``held_at``): a gap is alerted only once
    it stayed open past the grace (``open_gaps``)."""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.record.topic, self.record.partition, self.record.offset)


Ready = tuple[Envelope, RawRecord, "Held | None", Accepted | None]
"""A record whose chain place is next: its event, record, held row if any, and its verdict
(``None``: refused by the verification stage, it only passes on its place)."""
Verify = Callable[[Sequence[RawRecord]], Awaitable[list[Verdict]]]
"""The verification stage, for records released from the store."""
LoadSubjects = Callable[[Sequence[tuple[Accepted, Position]]], Awaitable[None]]
"""Loads into the fold the subjects (and histories) of records about to be applied."""


def _chained(verdict: Verdict) -> Envelope | None:
    """The event whose chain place a verdict's record takes, if any."""
    if isinstance(verdict, Accepted):
        return verdict.envelope
    return verdict.envelope if isinstance(verdict, RefusedEvent) else None


def _envelope(record: StoredRecord) -> Envelope:
    """The event of a stored record that was verified before (its chain fields are needed)."""
    return from_record(record.key, record.value, record.headers)


async def held_version(conn: AsyncConnection, tables: Tables, *, lock: bool = False) -> int:
    """How many batches of this generation have finished (the held records' version).

    ``lock=True`` (each batch, first thing in its transaction) takes the store's batch lock:
    the row stays locked until the batch commits or rolls back, so the batches of every
    consumer process writing one store apply one after the other, each reading what the
    previous one committed (see ``lock_batches``)."""
    query = select(views_meta.c.value).where(views_meta.c.key == _version_key(tables))
    if not lock:
        row = (await conn.execute(query)).scalar_one_or_none()
        return int(row) if row is not None else 0
    row = (await conn.execute(query.with_for_update())).scalar_one_or_none()
    if row is None:  # the generation's first batch: create the row, then lock it
        await conn.execute(dialect_insert(conn, views_meta)
                           .values(key=_version_key(tables), value="0").on_conflict_do_nothing())
        row = (await conn.execute(query.with_for_update())).scalar_one()
    return int(row)


async def lock_batches(conn: AsyncConnection, tables: Tables) -> int:
    """The store's batch lock, taken first in each batch transaction; returns the held
    records' version.

    The chain stage reads across partitions: a batch releases records another partition's
    batch held (``sequence_gap``, ``behind``), undoes what a fork's first branch applied, and
    reads the source chains and held records of every source it meets. Two batches of two
    processes (several ``emining views run`` sharing the partitions) running at once under
    PostgreSQL's READ COMMITTED could each miss the other's uncommitted held record and leave
    it held for good. With this lock the batches of one store are applied one after the other,
    each seeing everything committed before it: the views are those of one process reading the
    partitions in some interleaving, which every interleaving makes the same
    (``tests/unit/views/test_interleaving.py``). Verification, the costly part, runs before
    the transaction and so still in parallel. SQLite's ``BEGIN IMMEDIATE`` serialises writers
    already; there ``FOR UPDATE`` is not emitted and this is a plain read."""
    return await held_version(conn, tables, lock=True)


async def bump_held_version(conn: AsyncConnection, tables: Tables) -> int:
    """Count one more finished batch; returns the new version. Batches of other consumer
    processes on the same store count too, so a process whose held records in memory may be
    stale sees the version move by more than its own batch."""
    key = _version_key(tables)
    await conn.execute(dialect_insert(conn, views_meta).values(key=key, value="0")
                       .on_conflict_do_nothing())
    row = await conn.execute(update(views_meta).where(views_meta.c.key == key).values(
        value=cast(cast(views_meta.c.value, BigInteger) + 1, Text))
        .returning(views_meta.c.value))
    return int(row.scalar_one())


async def _held_again(conn: AsyncConnection, tables: Tables,
                      stale: Collection[Held]) -> list[Held]:
    """Every held row, its record taken from ``stale`` where it has one (parsing the stored
    records is most of the cost of reading them all), from the store for the others."""
    records = {h.key: h.record for h in stale}
    h = tables.held.c
    rows = (await conn.execute(select(h.topic, h.log_partition, h.log_offset, h.source,
                                      h.sequence, h.subject, h.event_id, h.reason,
                                      h.alerted, h.held_at))).all()
    missing = [(r.topic, r.log_partition, r.log_offset) for r in rows
               if (r.topic, r.log_partition, r.log_offset) not in records]
    for start in range(0, len(missing), 1000):
        for row in await conn.execute(
                select(h.topic, h.log_partition, h.log_offset, h.record).where(
                    tuple_(h.topic, h.log_partition, h.log_offset)
                    .in_(missing[start:start + 1000]))):
            records[(row.topic, row.log_partition, row.log_offset)] = StoredRecord.loads(
                row.record, row.log_partition, row.log_offset)
    return [Held(records[(r.topic, r.log_partition, r.log_offset)], r.source, r.sequence,
                 r.subject, r.event_id, Hold(r.reason), r.alerted, _parse_held_at(r.held_at))
            for r in rows]


def _version_key(tables: Tables) -> str:
    return f"held_version_{tables.generation}"


def _offset(held: Held) -> int:
    return held.record.offset


def position_of(record: RawRecord) -> Position:
    return Position(record.topic, record.partition, record.offset,
                    appended_at(getattr(record, "timestamp", None),
                                getattr(record, "timestamp_type", None)))


@dataclass(slots=True)
class Gate:
    """One batch's chain and subject stages, in front of the fold; written with the batch."""

    conn: AsyncConnection
    tables: Tables
    fold: Fold
    verify: Verify
    load_subjects: LoadSubjects
    chains: dict[str, Chain] = field(default_factory=dict)
    held: dict[tuple[str, int, int], Held] = field(default_factory=dict)
    applied: list[tuple[Accepted, Position]] = field(default_factory=list)
    refused: list[tuple[RawRecord, Rejected]] = field(default_factory=list)
    forks: list[Held] = field(default_factory=list)
    """Records a fork was found at in this batch (each raises an alert)."""
    _dirty_chains: set[str] = field(default_factory=set)
    _removed: set[tuple[str, int, int]] = field(default_factory=set)
    _dirty_held: set[tuple[str, int, int]] = field(default_factory=set)
    _by_place: dict[tuple[str, int], list[Held]] = field(default_factory=dict)
    _by_subject: dict[str, list[Held]] = field(default_factory=dict)
    _sources_loaded: set[str] = field(default_factory=set)
    _subjects_loaded: set[str] = field(default_factory=set)
    _none_held: bool = False
    _all: bool = False
    _verdicts: dict[tuple[str, int, int], Verdict] = field(default_factory=dict)
    """Verdicts of the held records, taken once per batch (``prefetch``)."""
    chains_checked: bool = True

    @classmethod
    async def open(cls, conn: AsyncConnection, tables: Tables, fold: Fold, verify: Verify,
                   load_subjects: LoadSubjects, sources: set[str], *,
                   chains: bool = True, known: Collection[Held] | None = None,
                   stale: Collection[Held] | None = None) -> Gate:
        """The gate of a batch. ``known``: every record held in the store, as the previous
        batch of this process left them (``complete_held``), instead of reading them again.
        ``stale``: the same, but another process's batch committed since: the held rows are
        read again, but not the records this process has already (a record at a log position
        never changes), only those another process held."""
        gate = cls(conn, tables, fold, verify, load_subjects, chains_checked=chains)
        c = tables.chains.c
        if sources:
            for row in await conn.execute(select(tables.chains)
                                          .where(c.source.in_(sorted(sources)))):
                gate.chains[row.source] = Chain(row.head, row.head_hash, row.forked_at)
        if known is not None:
            gate._put_all(known)
            gate._all = bool(known)
            gate._none_held = True
            return gate
        count = (await conn.execute(select(func.count()).select_from(tables.held))).scalar_one()
        gate._none_held = count == 0
        if 0 < count <= LOAD_ALL:  # one query instead of one per source and subject met
            gate._all = True
            if stale:
                gate._put_all(await _held_again(conn, tables, stale))
            else:
                gate._put_all([gate._row(row) for row in await conn.execute(select(tables.held))])
            gate._none_held = True  # nothing more to read from the store in this batch
        return gate

    def complete_held(self) -> list[Held] | None:
        """Every record held once this batch is written, if the gate had them all in memory
        (else ``None``: the next batch reads them from the store)."""
        if not self._none_held or len(self.held) > LOAD_ALL:
            return None
        return list(self.held.values())

    @staticmethod
    def _row(row: Any) -> Held:
        return Held(StoredRecord.loads(row.record, row.log_partition, row.log_offset),
                    row.source, row.sequence, row.subject, row.event_id, Hold(row.reason),
                    row.alerted, _parse_held_at(row.held_at))

    async def prefetch(self, sources: set[str], subjects: set[str],
                       places: Collection[tuple[str, int]] | None = None) -> None:
        """Read at once the held records of a batch's sources and subjects, and what applying
        those of its sources needs (their subjects, their duplicate checks): a batch that
        releases many asks the store once, not once per record. Only a record of the same
        source releases a held one (its predecessor), so the others wait untouched.

        ``places``: the chain places (source, sequence) the batch's records take. Then only
        the held records this batch can release are prepared: those the chain reaches from
        its head through the batch's and the held records' places without a gap, and those
        held behind them (or behind the batch's records) on their subjects. Anything else a
        batch does release (after a fork, say) is verified and loaded when it comes to it,
        as before: this only saves work, it decides nothing."""
        await self._load_held(sources=sources, subjects=subjects)
        self._sources_loaded |= sources
        self._subjects_loaded |= subjects
        if not self._all:
            return
        if places is None:
            waiting = [h.record for h in self.held.values()
                       if h.reason is not Hold.LINK and h.source in sources]
        else:
            waiting = self._releasable(sources, subjects, places)
        if waiting:
            verdicts = await self.verify(waiting)
            await self.load_subjects([(v, position_of(r)) for v, r in zip(verdicts, waiting,
                                                                          strict=True)
                                      if isinstance(v, Accepted)])
            self._verdicts = {(r.topic, r.partition, r.offset): v
                              for r, v in zip(waiting, verdicts, strict=True)}

    def _releasable(self, sources: set[str], subjects: set[str],
                    places: Collection[tuple[str, int]]) -> list[StoredRecord]:
        """The held records a batch taking ``places`` may release (see ``prefetch``)."""
        taken = set(places)
        reached: list[Held] = []
        for source in sources:
            chain = self.chains.get(source) or Chain()  # no row: nothing of it linked yet
            n = chain.head + 1
            while chain.forked_at is None or n < chain.forked_at:
                here = [h for h in self._by_place.get((source, n), ())
                        if h.reason in (Hold.GAP, Hold.LINK)]
                if not here and (source, n) not in taken:
                    break
                reached += [h for h in here if h.reason is Hold.GAP]
                n += 1
        touched = subjects | {h.subject for h in reached}
        behind = [h for subject in touched for h in self._by_subject.get(subject, ())
                  if h.reason is Hold.BEHIND]
        return [h.record for h in {id(h): h for h in reached + behind}.values()]

    # ---- reading the held records, lazily ------------------------------------------------

    async def _load_held(self, *, sources: Collection[str] = (),
                         subjects: Collection[str] = ()) -> None:
        if self._none_held or not (sources or subjects):
            return
        h = self.tables.held
        query = select(h).where(or_(h.c.source.in_(sorted(sources)),
                                    h.c.subject.in_(sorted(subjects))))
        for row in await self.conn.execute(query):
            key = (row.topic, row.log_partition, row.log_offset)
            if key in self.held or key in self._removed:
                continue
            self._put(self._row(row))

    def _put_all(self, records: Collection[Held]) -> None:
        """``_put`` for many at once (into an empty gate): each subject's line sorted once."""
        for held in records:
            self.held[held.key] = held
            self._by_place.setdefault((held.source, held.sequence), []).append(held)
            self._by_subject.setdefault(held.subject, []).append(held)
        for line in self._by_subject.values():
            line.sort(key=_offset)

    def _put(self, held: Held) -> None:
        """Keep ``held``, indexed by its source's sequence and by its subject's offset."""
        self.held[held.key] = held
        self._by_place.setdefault((held.source, held.sequence), []).append(held)
        line = self._by_subject.setdefault(held.subject, [])
        bisect.insort(line, held, key=_offset)

    def _drop(self, held: Held) -> None:
        kept = self.held.pop(held.key, None)
        if kept is None:
            return
        self._by_place[(kept.source, kept.sequence)].remove(kept)
        self._by_subject[kept.subject].remove(kept)

    async def _at_place(self, source: str, sequence: int) -> list[Held]:
        """The held records of ``source`` claiming ``sequence``."""
        if source not in self._sources_loaded:
            await self._of_source(source)
        return list(self._by_place.get((source, sequence), ()))

    async def _of_source(self, source: str) -> list[Held]:
        if source not in self._sources_loaded:
            await self._load_held(sources={source})
            self._sources_loaded.add(source)
        return sorted((h for h in self.held.values() if h.source == source),
                      key=lambda h: h.sequence)

    async def _on_subject(self, subject: str) -> list[Held]:
        """The subject's held records that block it (all but link-only), by offset."""
        if subject not in self._subjects_loaded:
            await self._load_held(subjects={subject})
            self._subjects_loaded.add(subject)
        return [h for h in self._by_subject.get(subject, ()) if h.reason is not Hold.LINK]

    async def _blocked(self, subject: str, offset: int, mine: Held | None) -> bool:
        """Whether a record of ``subject`` before ``offset`` (not ``mine``) is held."""
        if subject not in self._subjects_loaded:
            await self._on_subject(subject)
        for held in self._by_subject.get(subject, ()):
            if held.record.offset >= offset:
                return False
            if held is not mine and held.reason is not Hold.LINK:
                return True
        return False

    def _hold(self, record: RawRecord, env: Envelope, reason: Hold, *,
              store: bool = True) -> Held:
        before = self.held.get((record.topic, record.partition, record.offset))
        held = Held(StoredRecord.of(record), env.source, env.sequence, env.subject, env.id,
                    reason, held_at=before.held_at if before is not None and before.held_at
                    else datetime.now(UTC))  # held again: the store keeps the first time too
        if not store:  # only named (in an alert): a refused record stays a dead letter
            return held
        self._drop(held)
        self._put(held)
        self._removed.discard(held.key)
        self._dirty_held.add(held.key)
        log.info("record_held", reason=reason.value, event_id=env.id, org=env.org,
                 sequence=env.sequence, subject=env.subject, topic=record.topic,
                 partition=record.partition, offset=record.offset)
        return held

    def _mark(self, held: Held, reason: Hold) -> None:
        if held.reason is not reason:
            held.reason = reason
            self._dirty_held.add(held.key)

    def _release(self, held: Held) -> None:
        self._drop(held)
        self._removed.add(held.key)
        self._dirty_held.discard(held.key)

    async def _chain(self, source: str) -> Chain:
        chain = self.chains.get(source)
        if chain is None:  # a source the batch's verified records did not name
            c = self.tables.chains.c
            row = (await self.conn.execute(select(self.tables.chains)
                                           .where(c.source == source))).first()
            chain = Chain(row.head, row.head_hash, row.forked_at) if row else Chain()
            self.chains[source] = chain
        return chain

    # ---- the stages ----------------------------------------------------------------------

    async def chain_order(self, items: Sequence[tuple[RawRecord, Verdict]]
                          ) -> list[tuple[RawRecord, Verdict]]:
        """The batch in an order that keeps each partition's and follows each source's chain
        where it can: a record whose predecessor is further on in another partition of the
        batch comes after it, so a gap that fills within the batch holds nothing. Any order
        that keeps each partition's gives the same views; this one is only cheaper."""
        if not self.chains_checked:
            return list(items)
        queues: dict[tuple[str, int], list[tuple[RawRecord, Verdict]]] = {}
        for record, verdict in items:
            queues.setdefault((record.topic, record.partition), []).append((record, verdict))
        heads = dict.fromkeys(queues, 0)
        linked: dict[str, int] = {}
        out: list[tuple[RawRecord, Verdict]] = []
        while len(out) < len(items):
            progressed = False
            for tp, queue in queues.items():
                while heads[tp] < len(queue):
                    record, verdict = queue[heads[tp]]
                    if not await self._next_in_chain(_chained(verdict), linked):
                        break  # its predecessor may come from another partition first
                    out.append((record, verdict))
                    heads[tp] += 1
                    progressed = True
            if not progressed:  # a real gap: take the earliest stuck record as it comes
                tp = next(tp for tp, q in queues.items() if heads[tp] < len(q))
                record, verdict = queues[tp][heads[tp]]
                env = _chained(verdict)
                if env is not None:
                    linked[env.source] = max(linked.get(env.source, 0), env.sequence)
                out.append((record, verdict))
                heads[tp] += 1
        return out

    async def _next_in_chain(self, env: Envelope | None, linked: dict[str, int]) -> bool:
        """Whether ``env`` (None: no chain place) may come now; if so, its place is taken."""
        if env is None:
            return True
        head = linked.get(env.source)
        if head is None:
            head = linked[env.source] = (await self._chain(env.source)).head
        if env.sequence > head + 1:
            return False
        linked[env.source] = max(head, env.sequence)
        return True

    async def admit(self, accepted: Accepted, record: RawRecord) -> None:
        """A newly read, verified record: judge its order and chain, then apply or hold it."""
        env = accepted.envelope
        at = position_of(record)
        duplicate = self.fold.history.check_duplicate(env)
        out_of_order = self.fold.history.check_order(env, at.topic, at.partition)
        if duplicate is not None or out_of_order is not None:
            why = duplicate or out_of_order
            assert why is not None
            self.refused.append((record, why))
            if out_of_order is None and self.chains_checked \
                    and await self._place_of(env.source, env.id) != env.sequence:
                # an event id used again at another place: refused, the place is still taken
                self.fold.history.record_order(env, at.topic, at.partition)
                await self._enter(env, record, None)
            return
        self.fold.history.record_order(env, at.topic, at.partition)
        if not self.chains_checked:
            await self.load_subjects([(accepted, at)])
            await self._subject_stage(accepted, record, None)
            return
        await self._enter(env, record, accepted)

    async def _place_of(self, source: str, event_id: str) -> int | None:
        """The chain place (sequence) of the applied event ``event_id`` of ``source``."""
        for e in self.fold.changes().new_entries:
            if e.source == source and e.event_id == event_id:
                found = self.fold.provenance(e.subject, e.position)
                return found[0] if found else None
        tl = self.tables.timeline.c
        row = (await self.conn.execute(select(tl.sequence).where(
            tl.source == source, tl.event_id == event_id))).first()
        return None if row is None else int(row.sequence)

    async def admit_refused(self, env: Envelope, record: RawRecord) -> None:
        """An authentic record the verification stage refused (dead-lettered already): it is
        never applied, but it holds its place in its source's chain (a copy of it later in
        its partition does not: that is a replay, not a second event)."""
        if not self.chains_checked:
            return
        if self.fold.history.check_order(env, record.topic, record.partition) is not None:
            return
        self.fold.history.record_order(env, record.topic, record.partition)
        await self._enter(env, record, None)

    async def _enter(self, env: Envelope, record: RawRecord, accepted: Accepted | None) -> None:
        chain = await self._chain(env.source)
        n = env.sequence
        if chain.forked_at is not None and n >= chain.forked_at:
            if accepted is not None:
                self._hold(record, env, Hold.FORK)
            return
        if n <= chain.head or n > chain.head + 1:
            accepted = await self._would_apply(accepted, record)
        if n <= chain.head:
            found = self._hold(record, env, Hold.FORK, store=accepted is not None)
            await self._fork(env.source, chain, n, found)
            return
        if n > chain.head + 1:
            twin = await self._at_place(env.source, n)
            held = self._hold(record, env, Hold.GAP if accepted is not None else Hold.LINK)
            if twin:
                await self._fork(env.source, chain, n, held)
            return
        await self._advance(env.source, chain, [(env, record, None, accepted)])

    async def _would_apply(self, accepted: Accepted | None,
                           record: RawRecord) -> Accepted | None:
        """``accepted``, unless the views would refuse it on its subject as it stands: then it
        is refused now and only keeps its chain place, so a record held for its source's sake
        never blocks a subject it has no say in (another firm's project, say).

        Only when nothing earlier of the subject is held: then every earlier record of the
        subject (one partition, read in order) is decided, and the subject stands as it will
        when this record's turn comes, in any read order."""
        if accepted is None:
            return None
        env = accepted.envelope
        if await self._blocked(env.subject, record.offset, None):
            return accepted
        await self.load_subjects([(accepted, position_of(record))])
        refusal = self.fold.prejudge(accepted)
        if refusal is None:
            return accepted
        self.refused.append((record, refusal))
        return None

    async def _advance(self, source: str, chain: Chain, ready: list[Ready]) -> None:
        """Link the next record(s) of ``source``, then release its held successors."""
        linked: list[Ready] = []
        while ready:
            env, record, held, accepted = ready.pop(0)
            if env.prevhash != chain.head_hash:
                # It links to another event than the one holding its predecessor's place: the
                # source signed two histories from there (a fork whose other branch may not be
                # on the log). Judged only once the predecessor is linked, so in any order.
                if held is not None and accepted is None:
                    self._release(held)
                    held = None
                found = held or self._hold(record, env, Hold.FORK, store=accepted is not None)
                self._mark(found, Hold.FORK)
                log.warning("chain_link_broken", source=source, sequence=env.sequence,
                            prevhash=env.prevhash[:16], expected=chain.head_hash[:16])
                await self._fork(source, chain, max(chain.head, 1), found)
                break
            chain.head, chain.head_hash = env.sequence, env.hash()
            self._dirty_chains.add(source)
            linked.append((env, record, held, accepted))
            successor, stop = await self._successor(source, chain)
            if successor is not None:
                ready.append(successor)
            if stop:
                break
        if chain.forked_at is not None:  # linked here, then found on a forked stretch
            linked = self._off_the_fork(chain.forked_at, linked)
        applicable = [(a, r, h) for _, r, h, a in linked if a is not None]
        for _, _, held, accepted in linked:
            if accepted is None and held is not None:
                self._release(held)
        await self.load_subjects([(a, position_of(r)) for a, r, _ in applicable])
        for accepted, record, held in applicable:
            await self._subject_stage(accepted, record, held)

    async def _successor(self, source: str, chain: Chain) -> tuple[Ready | None, bool]:
        """The held record whose place is next, if any; and whether to stop linking here."""
        following = [h for h in await self._at_place(source, chain.head + 1)
                     if h.reason in (Hold.GAP, Hold.LINK)]
        if len(following) != 1:
            return None, False
        nxt = following[0]
        if nxt.reason is Hold.LINK:
            return (_envelope(nxt.record), nxt.record, nxt, None), False
        verdict = await self._verdict(nxt.record)
        if isinstance(verdict, Accepted):
            return (verdict.envelope, nxt.record, nxt, verdict), False
        # The registry changed since it was read: refused now, it was authentic when read and
        # keeps its place in the chain (else the source would stay held for good).
        self.refused.append((nxt.record, verdict))
        return (_envelope(nxt.record), nxt.record, nxt, None), False

    async def _verdict(self, record: StoredRecord) -> Verdict:
        found = self._verdicts.pop((record.topic, record.partition, record.offset), None)
        return found if found is not None else (await self.verify([record]))[0]

    def _off_the_fork(self, forked_at: int, linked: list[Ready]) -> list[Ready]:
        """``linked`` without what lies at or after ``forked_at``: held (or, refused, let go)."""
        for env, record, held, accepted in linked:
            if env.sequence < forked_at:
                continue
            if accepted is None:
                if held is not None:
                    self._release(held)
            else:
                self._mark(held or self._hold(record, env, Hold.FORK), Hold.FORK)
        return [x for x in linked if x[0].sequence < forked_at]

    async def _subject_stage(self, accepted: Accepted, record: RawRecord,
                             held: Held | None) -> None:
        """Apply a linked record unless an earlier record of its subject is still held."""
        env = accepted.envelope
        if await self._blocked(env.subject, record.offset, held):
            if held is None:
                self._hold(record, env, Hold.BEHIND)
            else:
                self._mark(held, Hold.BEHIND)
            return
        if held is not None:
            self._release(held)
        self._apply(accepted, record)
        await self._release_behind(env.subject)

    def _apply(self, accepted: Accepted, record: RawRecord) -> None:
        at = position_of(record)
        refusal = self.fold.apply(accepted, at,
                                  record=StoredRecord.of(record).dumps(value=False),
                                  ordered=False)
        if refusal is None:
            self.applied.append((accepted, at))
        else:
            self.refused.append((record, refusal))

    async def _release_behind(self, subject: str) -> None:
        if subject not in self._subjects_loaded:
            await self._on_subject(subject)
        line = self._by_subject.get(subject, [])
        while True:
            first = next((h for h in line if h.reason is not Hold.LINK), None)
            if first is None or first.reason is not Hold.BEHIND:
                return
            self._release(first)
            verdict = await self._verdict(first.record)
            if isinstance(verdict, Rejected):
                self.refused.append((first.record, verdict))
                continue
            await self.load_subjects([(verdict, position_of(first.record))])
            self._apply(verdict, first.record)

    # ---- forks ---------------------------------------------------------------------------

    async def _fork(self, source: str, chain: Chain, n: int, found: Held) -> None:
        """Two events of ``source`` claim sequence ``n``: quarantine it from ``n`` on."""
        log.warning("source_forked", source=source, sequence=n, event_id=found.event_id,
                    topic=found.record.topic, partition=found.record.partition,
                    offset=found.record.offset)
        self.forks.append(found)
        applied_up_to = chain.head
        chain.forked_at = n if chain.forked_at is None else min(chain.forked_at, n)
        chain.head = min(chain.head, n - 1)
        self._dirty_chains.add(source)
        for held in await self._of_source(source):
            if held.sequence >= n:
                if held.reason is Hold.LINK:
                    self._release(held)
                else:
                    self._mark(held, Hold.FORK)
        if applied_up_to >= n:
            await self._undo(source, n)

    async def _undo(self, source: str, n: int) -> None:
        """Take back what ``source``'s records from ``n`` on changed: each subject they touched
        is folded again from before the first of them, and the rest of it is held."""
        tl = self.tables.timeline
        first: dict[str, int] = {}
        for row in await self.conn.execute(
                select(tl.c.subject, tl.c.log_offset)
                .where(tl.c.source == source, tl.c.sequence >= n)):
            first[row.subject] = min(first.get(row.subject, row.log_offset), row.log_offset)
        for (subject, position), (sequence, _) in self._unwritten_of(source):
            if sequence >= n:
                offset = next(e.offset for e in self.fold.unwritten(subject)[0]
                              if e.position == position)
                first[subject] = min(first.get(subject, offset), offset)
        self.applied = [(a, p) for a, p in self.applied
                        if not (a.envelope.source == source and a.envelope.sequence >= n)]
        for subject, offset in sorted(first.items()):
            await self._refold(subject, offset, source, n)

    def _unwritten_of(self, source: str) -> list[tuple[tuple[str, int], tuple[int, str]]]:
        changes = self.fold.changes()
        by_key = {(e.subject, e.position): e for e in changes.new_entries}
        return [(k, v) for k, v in changes.provenance.items()
                if k in by_key and by_key[k].source == source]

    async def _history(self, subject: str) -> list[tuple[TimelineEntry, int, str]]:
        """``subject``'s whole timeline, stored and unwritten: ``(entry, sequence, record)``."""
        tl = self.tables.timeline
        rows = await self.conn.execute(select(tl).where(tl.c.subject == subject)
                                       .order_by(tl.c.position))
        if subject in self.fold.changes().reset:
            rows_list: list[tuple[TimelineEntry, int, str]] = []
        else:
            rows_list = [(entry_of(r), r.sequence, r.record) for r in rows]
        new, updated = self.fold.unwritten(subject)
        rows_list = [(updated.get(e.position, e), s, r) for e, s, r in rows_list]
        for e in new:
            sequence, record = self.fold.provenance(subject, e.position) or (0, "{}")
            rows_list.append((e, sequence, record))
        return sorted(rows_list, key=lambda x: x[0].position)

    async def _refold(self, subject: str, offset: int, source: str, n: int) -> None:
        history = await self._history(subject)
        kept = [h for h in history if h[0].offset < offset]
        moved = [h for h in history if h[0].offset >= offset]
        records = [StoredRecord.loads(r, e.partition, e.offset, e.data.encode())
                   for e, _, r in history]
        verdicts = await self.verify(records)
        await self.load_subjects([(v, position_of(r)) for v, r in zip(verdicts, records,
                                                                      strict=True)
                                  if isinstance(v, Accepted)])
        if subject not in self.fold.subjects:  # pragma: no cover - nothing of it verifies now
            log.error("refold_impossible", subject=subject, source=source, sequence=n)
            return
        self.fold.reset(subject, [(e.source, e.event_id) for e, _, _ in history])
        gone = {(e.source, e.event_id) for e, _, _ in moved}
        self.applied = [(a, p) for a, p in self.applied
                        if (a.envelope.source, a.envelope.id) not in gone]
        for (e, sequence, _), record, verdict in zip(history, records, verdicts, strict=True):
            if isinstance(verdict, Rejected):  # pragma: no cover - it was accepted before
                log.error("refold_refused", subject=subject, event_id=e.event_id,
                          reason=verdict.reason.value)
                continue
            if e.offset >= offset:
                forked = e.source == source and sequence >= n
                self._hold(record, verdict.envelope, Hold.FORK if forked else Hold.BEHIND)
                continue
            refusal = self.fold.apply(verdict, position_of(record),
                                      record=record.dumps(value=False), ordered=False)
            if refusal is not None:  # pragma: no cover - the same history, folded the same
                log.error("refold_refused", subject=subject, event_id=e.event_id,
                          reason=refusal.reason.value)
        log.warning("subject_refolded", subject=subject, kept=len(kept), held=len(moved),
                    source=source, sequence=n)

    # ---- alerts and writing --------------------------------------------------------------

    async def open_gaps(self, now: datetime | None = None, grace_s: float = 0.0) -> list[Held]:
        """Gap-held records no alert was raised for yet, held for at least ``grace_s`` seconds
        before ``now`` (marked raised by this call). Younger ones wait for a later call: during
        a partition's failover a source's next event can come first and its predecessor
        seconds later, and such a passing gap is no news (a record of unknown hold time counts
        as old)."""
        cutoff = (now or datetime.now(UTC)).timestamp() - grace_s
        h = self.tables.held
        gaps = (Hold.GAP, Hold.LINK)
        rows = await self.conn.execute(select(h).where(h.c.reason.in_([g.value for g in gaps]),
                                                       h.c.alerted.is_(False)))
        found: list[Held] = []
        for row in rows:
            key = (row.topic, row.log_partition, row.log_offset)
            held = self.held.get(key)
            if held is None and key not in self._removed:
                held = Held(
                    StoredRecord.loads(row.record, row.log_partition, row.log_offset),
                    row.source, row.sequence, row.subject, row.event_id, Hold(row.reason),
                    held_at=_parse_held_at(row.held_at))
                self._put(held)
            if held is not None and held.reason in gaps and not held.alerted:
                found.append(held)
        for held in self.held.values():
            if held.reason in gaps and not held.alerted and held not in found:
                found.append(held)
        waiting = [f for f in found if f.held_at is not None and f.held_at.timestamp() > cutoff]
        if waiting:
            log.info("gap_alert_deferred", held=len(waiting), grace_s=grace_s)
            found = [f for f in found if f not in waiting]
        for held in found:
            held.alerted = True
            self._dirty_held.add(held.key)
        for held in self.forks:
            held.alerted = True
        return found

    async def write(self) -> None:
        """Store the chains and the held records as this batch leaves them."""
        t = self.tables
        if self._dirty_chains:
            stmt = dialect_insert(self.conn, t.chains)
            await self.conn.execute(
                stmt.on_conflict_do_update(index_elements=["source"], set_={
                    "head": stmt.excluded.head, "head_hash": stmt.excluded.head_hash,
                    "forked_at": stmt.excluded.forked_at}),
                [{"source": s, "head": self.chains[s].head,
                  "head_hash": self.chains[s].head_hash, "forked_at": self.chains[s].forked_at}
                 for s in sorted(self._dirty_chains)])
        h = t.held.c
        if self._removed:
            await self.conn.execute(
                delete(t.held).where(h.topic == bindparam("t"), h.log_partition == bindparam("p"),
                                     h.log_offset == bindparam("o")),
                [{"t": k[0], "p": k[1], "o": k[2]} for k in sorted(self._removed)])
        rows = [self.held[k] for k in sorted(self._dirty_held) if k in self.held]
        if rows:
            now = format_time(datetime.now(UTC))
            stmt = dialect_insert(self.conn, t.held)
            await self.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["topic", "log_partition", "log_offset"],
                    set_={"reason": stmt.excluded.reason, "alerted": stmt.excluded.alerted}),
                [{"topic": r.record.topic, "log_partition": r.record.partition,
                  "log_offset": r.record.offset, "source": r.source, "sequence": r.sequence,
                  "subject": r.subject, "event_id": r.event_id, "reason": r.reason.value,
                  "record": r.record.dumps(), "alerted": r.alerted,
                  "held_at": format_time(r.held_at) if r.held_at is not None else now}
                 for r in rows])

    def may_hold(self) -> bool:
        """Whether anything is held (in the store, or by this batch)."""
        return bool(self.held) or not self._none_held

    def held_now(self) -> int:
        return len(self.held)


def _parse_held_at(text: str | None) -> datetime | None:
    """A stored ``held_at`` (``format_time``'s spelling), ``None`` if absent or unreadable."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


async def held_records(conn: AsyncConnection, tables: Tables) -> list[dict[str, object]]:
    """Every held record, for the read API and the CLI."""
    h = tables.held
    rows = await conn.execute(select(h.c.topic, h.c.log_partition, h.c.log_offset, h.c.source,
                                     h.c.sequence, h.c.subject, h.c.event_id, h.c.reason,
                                     h.c.held_at).order_by(h.c.source, h.c.sequence))
    return [dict(r._mapping) for r in rows]  # noqa: SLF001 - SQLAlchemy's public Row API


