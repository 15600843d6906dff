"""Forks: two events of one source claim one sequence (or a record does not link to the event
holding its predecessor's place).

The source is quarantined from that sequence on: both branches and every later record of it
are held (``fork``). What the first branch already changed is undone: each subject it touched
is folded again from its history before that record, and what followed there is held.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select

from consumers.holding.batch import Batch
from consumers.holding.records import Chain, Held, Hold, Ready, position_of
from consumers.store_batch import entry_of
from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, Rejected
from consumers.views.models import TimelineEntry

log = structlog.get_logger("consumers.holding")


async def fork(batch: Batch, source: str, chain: Chain, n: int, found: Held) -> None:
    """Two events of ``source`` claim sequence ``n``: quarantine it from ``n`` on."""
    log.warning("source_forked", source=source, sequence=n, event_id=found.event_id,
                topic=found.record.topic, partition=found.record.partition,
                offset=found.record.offset)
    batch.forks.append(found)
    applied_up_to = chain.head
    chain.forked_at = n if chain.forked_at is None else min(chain.forked_at, n)
    chain.head = min(chain.head, n - 1)
    batch.dirty_chains.add(source)
    for held in await batch.held.of_source(source):
        if held.sequence >= n:
            if held.reason is Hold.LINK:
                batch.held.release(held)
            else:
                batch.held.mark(held, Hold.FORK)
    if applied_up_to >= n:
        await _undo(batch, source, n)


def off_the_fork(batch: Batch, forked_at: int, linked: list[Ready]) -> list[Ready]:
    """``linked`` without what lies at or after ``forked_at``: held (or, refused, let go)."""
    for env, record, held, accepted in linked:
        if env.sequence < forked_at:
            continue
        if accepted is None:
            if held is not None:
                batch.held.release(held)
        else:
            batch.held.mark(held or batch.held.hold(record, env, Hold.FORK), Hold.FORK)
    return [x for x in linked if x[0].sequence < forked_at]


async def _undo(batch: Batch, source: str, n: int) -> None:
    """Take back what ``source``'s records from ``n`` on changed: each subject they touched
    is folded again from before the first of them, and the rest of it is held."""
    tl = batch.tables.timeline
    first: dict[str, int] = {}
    for row in await batch.conn.execute(
            select(tl.c.subject, tl.c.log_offset)
            .where(tl.c.source == source, tl.c.sequence >= n)):
        first[row.subject] = min(first.get(row.subject, row.log_offset), row.log_offset)
    for (subject, position), (sequence, _) in _unwritten_of(batch, source):
        if sequence >= n:
            offset = next(e.offset for e in batch.fold.unwritten(subject)[0]
                          if e.position == position)
            first[subject] = min(first.get(subject, offset), offset)
    batch.applied = [(a, p) for a, p in batch.applied
                     if not (a.envelope.source == source and a.envelope.sequence >= n)]
    for subject, offset in sorted(first.items()):
        await _refold(batch, subject, offset, source, n)


def _unwritten_of(batch: Batch, source: str) -> list[tuple[tuple[str, int], tuple[int, str]]]:
    changes = batch.fold.changes()
    by_key = {(e.subject, e.position): e for e in changes.new_entries}
    return [(k, v) for k, v in changes.provenance.items()
            if k in by_key and by_key[k].source == source]


async def _history(batch: Batch, subject: str) -> list[tuple[TimelineEntry, int, str]]:
    """``subject``'s whole timeline, stored and unwritten: ``(entry, sequence, record)``."""
    tl = batch.tables.timeline
    rows = await batch.conn.execute(select(tl).where(tl.c.subject == subject)
                                    .order_by(tl.c.position))
    if subject in batch.fold.changes().reset:
        rows_list: list[tuple[TimelineEntry, int, str]] = []
    else:
        rows_list = [(entry_of(r), r.sequence, r.record) for r in rows]
    new, updated = batch.fold.unwritten(subject)
    rows_list = [(updated.get(e.position, e), s, r) for e, s, r in rows_list]
    for e in new:
        sequence, record = batch.fold.provenance(subject, e.position) or (0, "{}")
        rows_list.append((e, sequence, record))
    return sorted(rows_list, key=lambda x: x[0].position)


async def _refold(batch: Batch, subject: str, offset: int, source: str, n: int) -> None:
    history = await _history(batch, subject)
    kept = [h for h in history if h[0].offset < offset]
    moved = [h for h in history if h[0].offset >= offset]
    records = [StoredRecord.loads(r, e.partition, e.offset, e.data.encode())
               for e, _, r in history]
    verdicts = await batch.verify(records)
    await batch.load_subjects([(v, position_of(r)) for v, r in zip(verdicts, records,
                                                                   strict=True)
                               if isinstance(v, Accepted)])
    if subject not in batch.fold.subjects:  # pragma: no cover - nothing of it verifies now
        log.error("refold_impossible", subject=subject, source=source, sequence=n)
        return
    batch.fold.reset(subject, [(e.source, e.event_id) for e, _, _ in history])
    gone = {(e.source, e.event_id) for e, _, _ in moved}
    batch.applied = [(a, p) for a, p in batch.applied
                     if (a.envelope.source, a.envelope.id) not in gone]
    for (e, sequence, _), record, verdict in zip(history, records, verdicts, strict=True):
        if isinstance(verdict, Rejected):  # pragma: no cover - it was accepted before
            log.error("refold_refused", subject=subject, event_id=e.event_id,
                      reason=verdict.reason.value)
            continue
        if e.offset >= offset:
            forked = e.source == source and sequence >= n
            batch.held.hold(record, verdict.envelope, Hold.FORK if forked else Hold.BEHIND)
            continue
        refusal = batch.fold.apply(verdict, position_of(record),
                                   record=record.dumps(value=False), ordered=False)
        if refusal is not None:  # pragma: no cover - the same history, folded the same
            log.error("refold_refused", subject=subject, event_id=e.event_id,
                      reason=refusal.reason.value)
    log.warning("subject_refolded", subject=subject, kept=len(kept), held=len(moved),
                source=source, sequence=n)
