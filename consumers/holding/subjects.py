"""The subject stage: a linked record is applied in its subject's log order.

A subject's events all lie in one partition, so its history is applied in offset order: a
record behind a held one on the same subject is held too (``behind``) and released right after
it (``release_behind``).
"""

from __future__ import annotations

from consumers.holding.batch import Batch
from consumers.holding.records import Held, Hold, position_of
from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, RawRecord, Rejected


async def subject_stage(batch: Batch, accepted: Accepted, record: RawRecord,
                        held: Held | None) -> None:
    """Apply a linked record unless an earlier record of its subject is still held."""
    env = accepted.envelope
    if await batch.held.blocked(env.subject, record.offset, held):
        if held is None:
            batch.held.hold(record, env, Hold.BEHIND)
        else:
            batch.held.mark(held, Hold.BEHIND)
        return
    if held is not None:
        batch.held.release(held)
    apply(batch, accepted, record)
    await release_behind(batch, env.subject)


def apply(batch: Batch, accepted: Accepted, record: RawRecord) -> None:
    at = position_of(record)
    provenance = accepted.provenance or StoredRecord.of(record).dumps(value=False)
    refusal = batch.fold.apply(accepted, at, record=provenance, ordered=False)
    if refusal is None:
        batch.applied.append((accepted, at))
    else:
        batch.refused.append((record, refusal))


async def release_behind(batch: Batch, subject: str) -> None:
    """Apply the records held behind ``subject``'s first one, now that it is gone."""
    if subject not in batch.held.subjects_loaded:
        await batch.held.on_subject(subject)
    line = batch.held.by_subject.get(subject, [])  # the live line: releasing shortens it
    while True:
        first = next((h for h in line if h.reason is not Hold.LINK), None)
        if first is None or first.reason is not Hold.BEHIND:
            return
        batch.held.release(first)
        verdict = await batch.verdict(first.record)
        if isinstance(verdict, Rejected):
            batch.refused.append((first.record, verdict))
            continue
        await batch.load_subjects([(verdict, position_of(first.record))])
        apply(batch, verdict, first.record)


async def would_apply(batch: Batch, accepted: Accepted | None,
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
    if await batch.held.blocked(env.subject, record.offset, None):
        return accepted
    await batch.load_subjects([(accepted, position_of(record))])
    refusal = batch.fold.prejudge(accepted)
    if refusal is None:
        return accepted
    batch.refused.append((record, refusal))
    return None
