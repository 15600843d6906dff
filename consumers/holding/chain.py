"""The chain stage: a record counts only once its source's chain reaches it.

A record counts only once every earlier sequence of its source has been read and its
``prevhash`` links to the one before (``Chain``). A record whose predecessors are not there yet
is held (``sequence_gap``) and released, in sequence order, when the gap fills; one whose
sequence is taken already is a fork (``consumers.holding.forks``). A linked record goes on to
its subject (``consumers.holding.subjects``).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import select

from consumers.holding.batch import Batch
from consumers.holding.forks import fork, off_the_fork
from consumers.holding.records import Chain, Hold, Ready, chained, envelope_of, position_of
from consumers.holding.subjects import subject_stage, would_apply
from consumers.verification import Accepted, RawRecord, Verdict
from schemas.envelope import Envelope

log = structlog.get_logger("consumers.holding")


async def chain_order(batch: Batch, items: Sequence[tuple[RawRecord, Verdict]]
                      ) -> list[tuple[RawRecord, Verdict]]:
    """The batch in an order that keeps each partition's and follows each source's chain
    where it can: a record whose predecessor is further on in another partition of the
    batch comes after it, so a gap that fills within the batch holds nothing. Any order
    that keeps each partition's gives the same views; this one is only cheaper."""
    if not batch.chains_checked:
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
                if not await _next_in_chain(batch, chained(verdict), linked):
                    break  # its predecessor may come from another partition first
                out.append((record, verdict))
                heads[tp] += 1
                progressed = True
        if not progressed:  # a real gap: take the earliest stuck record as it comes
            tp = next(tp for tp, q in queues.items() if heads[tp] < len(q))
            record, verdict = queues[tp][heads[tp]]
            env = chained(verdict)
            if env is not None:
                linked[env.source] = max(linked.get(env.source, 0), env.sequence)
            out.append((record, verdict))
            heads[tp] += 1
    return out


async def _next_in_chain(batch: Batch, env: Envelope | None, linked: dict[str, int]) -> bool:
    """Whether ``env`` (None: no chain place) may come now; if so, its place is taken."""
    if env is None:
        return True
    head = linked.get(env.source)
    if head is None:
        head = linked[env.source] = (await batch.chain(env.source)).head
    if env.sequence > head + 1:
        return False
    linked[env.source] = max(head, env.sequence)
    return True


async def admit(batch: Batch, accepted: Accepted, record: RawRecord) -> None:
    """A newly read, verified record: judge its order and chain, then apply or hold it."""
    env = accepted.envelope
    at = position_of(record)
    duplicate = batch.fold.history.check_duplicate(env)
    out_of_order = batch.fold.history.check_order(env, at.topic, at.partition)
    if duplicate is not None or out_of_order is not None:
        why = duplicate or out_of_order
        assert why is not None
        batch.refused.append((record, why))
        if out_of_order is None and batch.chains_checked \
                and await _place_of(batch, env.source, env.id) != env.sequence:
            # an event id used again at another place: refused, the place is still taken
            batch.fold.history.record_order(env, at.topic, at.partition)
            await _enter(batch, env, record, None)
        return
    batch.fold.history.record_order(env, at.topic, at.partition)
    if not batch.chains_checked:
        await batch.load_subjects([(accepted, at)])
        await subject_stage(batch, accepted, record, None)
        return
    await _enter(batch, env, record, accepted)


async def _place_of(batch: Batch, source: str, event_id: str) -> int | None:
    """The chain place (sequence) of the applied event ``event_id`` of ``source``."""
    for e in batch.fold.changes().new_entries:
        if e.source == source and e.event_id == event_id:
            found = batch.fold.provenance(e.subject, e.position)
            return found[0] if found else None
    tl = batch.tables.timeline.c
    row = (await batch.conn.execute(select(tl.sequence).where(
        tl.source == source, tl.event_id == event_id))).first()
    return None if row is None else int(row.sequence)


async def admit_refused(batch: Batch, env: Envelope, record: RawRecord) -> None:
    """An authentic record the verification stage refused (dead-lettered already): it is
    never applied, but it holds its place in its source's chain (a copy of it later in
    its partition does not: that is a replay, not a second event)."""
    if not batch.chains_checked:
        return
    if batch.fold.history.check_order(env, record.topic, record.partition) is not None:
        return
    batch.fold.history.record_order(env, record.topic, record.partition)
    await _enter(batch, env, record, None)


async def _enter(batch: Batch, env: Envelope, record: RawRecord,
                 accepted: Accepted | None) -> None:
    chain = await batch.chain(env.source)
    n = env.sequence
    if chain.forked_at is not None and n >= chain.forked_at:
        if accepted is not None:
            batch.held.hold(record, env, Hold.FORK)
        return
    if n <= chain.head or n > chain.head + 1:
        accepted = await would_apply(batch, accepted, record)
    if n <= chain.head:
        found = batch.held.hold(record, env, Hold.FORK, store=accepted is not None)
        await fork(batch, env.source, chain, n, found)
        return
    if n > chain.head + 1:
        twin = await batch.held.at_place(env.source, n)
        held = batch.held.hold(record, env, Hold.GAP if accepted is not None else Hold.LINK)
        if twin:
            await fork(batch, env.source, chain, n, held)
        return
    await _advance(batch, env.source, chain, [(env, record, None, accepted)])


async def _advance(batch: Batch, source: str, chain: Chain, ready: list[Ready]) -> None:
    """Link the next record(s) of ``source``, then release its held successors."""
    linked: list[Ready] = []
    while ready:
        env, record, held, accepted = ready.pop(0)
        if env.prevhash != chain.head_hash:
            # It links to another event than the one holding its predecessor's place: the
            # source signed two histories from there (a fork whose other branch may not be
            # on the log). Judged only once the predecessor is linked, so in any order.
            if held is not None and accepted is None:
                batch.held.release(held)
                held = None
            found = held or batch.held.hold(record, env, Hold.FORK, store=accepted is not None)
            batch.held.mark(found, Hold.FORK)
            log.warning("chain_link_broken", source=source, sequence=env.sequence,
                        prevhash=env.prevhash[:16], expected=chain.head_hash[:16])
            await fork(batch, source, chain, max(chain.head, 1), found)
            break
        chain.head, chain.head_hash = env.sequence, env.hash()
        batch.dirty_chains.add(source)
        linked.append((env, record, held, accepted))
        successor, stop = await _successor(batch, source, chain)
        if successor is not None:
            ready.append(successor)
        if stop:
            break
    if chain.forked_at is not None:  # linked here, then found on a forked stretch
        linked = off_the_fork(batch, chain.forked_at, linked)
    applicable = [(a, r, h) for _, r, h, a in linked if a is not None]
    for _, _, held, accepted in linked:
        if accepted is None and held is not None:
            batch.held.release(held)
    await batch.load_subjects([(a, position_of(r)) for a, r, _ in applicable])
    for accepted, record, held in applicable:
        await subject_stage(batch, accepted, record, held)


async def _successor(batch: Batch, source: str, chain: Chain) -> tuple[Ready | None, bool]:
    """The held record whose place is next, if any; and whether to stop linking here."""
    following = [h for h in await batch.held.at_place(source, chain.head + 1)
                 if h.reason in (Hold.GAP, Hold.LINK)]
    if len(following) != 1:
        return None, False
    nxt = following[0]
    if nxt.reason is Hold.LINK:
        return (envelope_of(nxt.record), nxt.record, nxt, None), False
    verdict = await batch.verdict(nxt.record)
    if isinstance(verdict, Accepted):
        return (verdict.envelope, nxt.record, nxt, verdict), False
    # The registry changed since it was read: refused now, it was authentic when read and
    # keeps its place in the chain (else the source would stay held for good).
    batch.refused.append((nxt.record, verdict))
    return (envelope_of(nxt.record), nxt.record, nxt, None), False
