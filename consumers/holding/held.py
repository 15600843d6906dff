"""The held records one batch sees: read from the store lazily (or all at once), indexed by
their source's sequence and by their subject's offset, changed in memory and written with the
batch (``HeldSet.write``)."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.holding.records import Held, Hold, Key, offset_of
from consumers.holding.store import (
    all_held,
    count_held,
    held_again,
    held_of_row,
    held_rows,
    unalerted_rows,
    write_held,
)
from consumers.store_schema import Tables
from consumers.stored_record import StoredRecord
from consumers.verification import RawRecord
from schemas.envelope import Envelope, org_of

log = structlog.get_logger("consumers.holding")

LOAD_ALL = 20_000
"""Up to this many held records, a batch reads them all at once (the common case: records
waiting a batch or two for their predecessors while a consumer catches up); beyond, it reads
those of its sources and subjects only."""

GAPS = (Hold.GAP, Hold.LINK)
"""The reasons a gap alert names (a link-only record waits for a predecessor too)."""


@dataclass(slots=True)
class HeldIndex:
    """Every held record as a committed batch of this process left them, with the set's
    indexes: the next batch takes it over as it is. Indexing the carried records afresh each
    batch (a dict entry and a subject line each, every line sorted again) cost ~15% of the view
    consumer's time while it held thousands (docs/performance.md, "Fifth pass").

    Taken by one batch only: the batch changes it in place, so it is carried again only once
    that batch committed (``ViewSync`` forgets it before the batch runs)."""

    records: dict[Key, Held]
    by_place: dict[tuple[str, int], list[Held]]
    by_subject: dict[str, list[Held]]

    def held(self) -> list[Held]:
        return list(self.records.values())


@dataclass(slots=True)
class HeldSet:
    """The held records as this batch leaves them; what it changed, to write."""

    conn: AsyncConnection
    tables: Tables
    records: dict[Key, Held] = field(default_factory=dict)
    removed: set[Key] = field(default_factory=set)
    """Released in this batch (deleted from the store on writing; never read back)."""
    dirty: set[Key] = field(default_factory=set)
    """Held or changed in this batch (written)."""
    fresh: set[Key] = field(default_factory=set)
    """Held in this batch: ``write`` logs those the batch leaves held, once each."""
    by_place: dict[tuple[str, int], list[Held]] = field(default_factory=dict)
    by_subject: dict[str, list[Held]] = field(default_factory=dict)
    """Each subject's held records by offset."""
    sources_loaded: set[str] = field(default_factory=set)
    subjects_loaded: set[str] = field(default_factory=set)
    complete: bool = False
    """Nothing more to read from the store in this batch: every held record is in memory."""
    all_read: bool = False
    """Every held record was read at once when the batch opened (``prefetch`` may then
    prepare those the batch can release)."""

    @classmethod
    async def open(cls, conn: AsyncConnection, tables: Tables, *,
                   known: HeldIndex | None = None,
                   stale: Collection[Held] | None = None) -> HeldSet:
        """``known``: every record held in the store, as the previous batch of this process
        left them (taken over, not copied); ``stale``: the same, but another process's batch
        committed since (see ``Gate.open``)."""
        if known is not None:
            return cls(conn, tables, known.records, by_place=known.by_place,
                       by_subject=known.by_subject, complete=True,
                       all_read=bool(known.records))
        held = cls(conn, tables)
        count = await count_held(conn, tables)
        held.complete = count == 0
        if 0 < count <= LOAD_ALL:  # one query instead of one per source and subject met
            held.all_read = True
            if stale:
                held.put_all(await held_again(conn, tables, stale))
            else:
                held.put_all(await all_held(conn, tables))
            held.complete = True  # nothing more to read from the store in this batch
        return held

    def __contains__(self, key: object) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Held]:
        return iter(self.records.values())

    def carry(self) -> HeldIndex | None:
        """Every record held once this batch is written, indexed, if all are in memory (else
        ``None``: the next batch reads them from the store)."""
        if not self.complete or len(self.records) > LOAD_ALL:
            return None
        return HeldIndex(self.records, self.by_place, self.by_subject)

    def may_hold(self) -> bool:
        """Whether anything is held (in the store, or by this batch)."""
        return bool(self.records) or not self.complete

    # ---- reading, lazily -----------------------------------------------------------------

    async def load(self, *, sources: Collection[str] = (),
                   subjects: Collection[str] = ()) -> None:
        """Read the held records of ``sources`` and ``subjects`` (not those released here)."""
        if self.complete or not (sources or subjects):
            return
        for row in await held_rows(self.conn, self.tables, sources=sources,
                                         subjects=subjects):
            key = (row.topic, row.log_partition, row.log_offset)
            if key in self.records or key in self.removed:
                continue
            self.put(held_of_row(row))

    async def at_place(self, source: str, sequence: int) -> list[Held]:
        """The held records of ``source`` claiming ``sequence``."""
        if source not in self.sources_loaded:
            await self.of_source(source)
        return list(self.by_place.get((source, sequence), ()))

    async def of_source(self, source: str) -> list[Held]:
        if source not in self.sources_loaded:
            await self.load(sources={source})
            self.sources_loaded.add(source)
        return sorted((h for h in self.records.values() if h.source == source),
                      key=lambda h: h.sequence)

    async def on_subject(self, subject: str) -> list[Held]:
        """The subject's held records that block it (all but link-only), by offset."""
        if subject not in self.subjects_loaded:
            await self.load(subjects={subject})
            self.subjects_loaded.add(subject)
        return [h for h in self.by_subject.get(subject, ()) if h.reason is not Hold.LINK]

    async def blocked(self, subject: str, offset: int, mine: Held | None) -> bool:
        """Whether a record of ``subject`` before ``offset`` (not ``mine``) is held."""
        if subject not in self.subjects_loaded:
            await self.on_subject(subject)
        for held in self.by_subject.get(subject, ()):
            if held.record.offset >= offset:
                return False
            if held is not mine and held.reason is not Hold.LINK:
                return True
        return False

    # ---- the index -----------------------------------------------------------------------

    def put_all(self, records: Collection[Held]) -> None:
        """``put`` for many at once (into an empty set): each subject's line sorted once."""
        for held in records:
            self.records[held.key] = held
            self.by_place.setdefault((held.source, held.sequence), []).append(held)
            self.by_subject.setdefault(held.subject, []).append(held)
        for line in self.by_subject.values():
            line.sort(key=offset_of)

    def put(self, held: Held) -> None:
        """Keep ``held``, indexed by its source's sequence and by its subject's offset."""
        self.records[held.key] = held
        self.by_place.setdefault((held.source, held.sequence), []).append(held)
        line = self.by_subject.setdefault(held.subject, [])
        bisect.insort(line, held, key=offset_of)

    def drop(self, held: Held) -> None:
        kept = self.records.pop(held.key, None)
        if kept is None:
            return
        place = (kept.source, kept.sequence)
        self.by_place[place].remove(kept)
        if not self.by_place[place]:  # carried from batch to batch: no empty entries left
            del self.by_place[place]
        line = self.by_subject[kept.subject]
        line.remove(kept)
        if not line:
            del self.by_subject[kept.subject]

    # ---- holding and releasing -----------------------------------------------------------

    def hold(self, record: RawRecord, env: Envelope, reason: Hold, *,
             store: bool = True) -> Held:
        before = self.records.get((record.topic, record.partition, record.offset))
        held = Held(StoredRecord.of(record), env.source, env.sequence, env.subject, env.id,
                    reason, held_at=before.held_at if before is not None and before.held_at
                    else datetime.now(UTC))  # held again: the store keeps the first time too
        if not store:  # only named (in an alert): a refused record stays a dead letter
            return held
        self.drop(held)
        self.put(held)
        self.removed.discard(held.key)
        self.dirty.add(held.key)
        self.fresh.add(held.key)
        return held

    def mark(self, held: Held, reason: Hold) -> None:
        if held.reason is not reason:
            held.reason = reason
            self.dirty.add(held.key)

    def release(self, held: Held) -> None:
        self.drop(held)
        self.removed.add(held.key)
        self.dirty.discard(held.key)

    # ---- alerts and writing --------------------------------------------------------------

    async def open_gaps(self, now: datetime | None, grace_s: float) -> list[Held]:
        """Gap-held records no alert was raised for yet, held for at least ``grace_s`` seconds
        before ``now`` (marked raised here; see ``Gate.open_gaps``)."""
        cutoff = (now or datetime.now(UTC)).timestamp() - grace_s
        found: list[Held] = []
        for row in await unalerted_rows(self.conn, self.tables, GAPS):
            key = (row.topic, row.log_partition, row.log_offset)
            held = self.records.get(key)
            if held is None and key not in self.removed:
                held = held_of_row(row)
                self.put(held)
            if held is not None and held.reason in GAPS and not held.alerted:
                found.append(held)
        for held in self.records.values():
            if held.reason in GAPS and not held.alerted and held not in found:
                found.append(held)
        waiting = [f for f in found if f.held_at is not None and f.held_at.timestamp() > cutoff]
        if waiting:
            log.info("gap_alert_deferred", held=len(waiting), grace_s=grace_s)
            found = [f for f in found if f not in waiting]
        for held in found:
            held.alerted = True
            self.dirty.add(held.key)
        return found

    async def write(self) -> None:
        """Store the held records as this batch leaves them, and log those it held.

        A line per record the batch leaves held, not per hold: while a consumer catches up,
        about half the records wait for a predecessor that comes in the same batch, and a line
        each (~12 µs of JSON at the services' info level) said nothing an operator can use."""
        await write_held(self.conn, self.tables, self.removed,
                               [self.records[k] for k in sorted(self.dirty) if k in self.records])
        for key in sorted(self.fresh & self.records.keys()):
            held = self.records[key]
            log.info("record_held", reason=held.reason.value, event_id=held.event_id,
                     org=org_of(held.source), sequence=held.sequence, subject=held.subject,
                     topic=key[0], partition=key[1], offset=key[2])
