"""One polled batch applied to the views exactly once: verify, fold, dead-letter, commit offsets.

The store's offsets decide, not Kafka's delivery. Inside the batch transaction each partition's
stored next offset is locked; records below it were applied already and are skipped; a batch
that starts above it (a batch lost to a failed handler, a fetch that raced a rebalance) is
dropped and the partition re-read from the stored offset. A hole the log itself has (control
records of a transactional producer) is accepted only right after this consumer sought to the
stored offset, when the first record it then gets lies beyond. So a crash at any point, a
redelivery, or two processes briefly reading the
same partition during a rebalance can neither double nor lose an update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.fold import Changes, Position
from consumers.gap_news import caught_up, held_letter
from consumers.holding import Gate, bump_held_version, lock_batches, position_of
from consumers.holding.held import HeldIndex
from consumers.metrics import VIEW_BATCH_SECONDS, VIEW_BATCHES, VIEW_EVENTS, VIEW_LAG
from consumers.positions import select
from consumers.store import ViewStore
from consumers.store_batch import DocCache, load, load_more, lock_offsets, write
from consumers.store_schema import Tables
from consumers.verification import (
    Accepted,
    RawRecord,
    Reason,
    RefusedEvent,
    RegistrySource,
    Rejected,
    Verdict,
    VerificationStage,
)
from consumers.views.families import FAMILIES
from transport.kafka import TopicPartition

log = structlog.get_logger("consumers.sync")

GAP_GRACE_S = 60.0
"""How long a gap stays open before it is alerted (``ViewsConfig.gap_grace_s``): while a
partition has no leader (a broker's failover) a source's next event on another partition can
arrive first and its predecessor only once the new leader takes it. The producers give a send
up after ``client_timeout_s`` (15 s, their request timeout) and send it again, and a leader
election takes up to the brokers' session timeout, so 60 s covers a failover with room; a gap
older than that is news."""

VERDICTS = 100_000
"""How many verdicts of held records the consumer keeps in memory (beyond, it verifies again)."""


class PartitionControl(Protocol):
    """The consumer's side of partition ownership: what it owns, and moving its position."""

    def assignment(self) -> Any: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...


class BatchHook(Protocol):
    """Work that must commit with the batch (the alerts): called inside its transaction."""

    async def on_batch(self, conn: AsyncConnection, tables: Tables,
                       applied: Sequence[tuple[Accepted, Position]],
                       changes: Changes) -> list[str]: ...

    def committed(self, new: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    applied: int = 0
    rejected: int = 0
    skipped: int = 0
    """Records below the stored offset (applied before) or of partitions not owned any more."""
    reseek: dict[tuple[str, int], int] = field(default_factory=dict)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    """The next offsets this batch stored, per partition."""
    held: int = 0
    """Records the batch left held (``consumers.holding``), its own and earlier ones it saw."""


class ViewSync:
    """Applies batches to the live views (or to ``generation``, for a rebuild)."""

    def __init__(
        self, store: ViewStore, stage: VerificationStage, dlq: DeadLetterQueue, *,
        registry: RegistrySource | None = None, generation: str | None = None,
        alerts: BatchHook | None = None, chains: bool = True,
        gap_grace_s: float = GAP_GRACE_S, clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store, self.stage, self.dlq = store, stage, dlq
        self._chains = chains
        """Hold records until their source's chain is complete (``consumers.holding``); off
        only for a replay that leaves records out on purpose (one subject, up to a moment)."""
        self._registry = registry
        self._generation = generation
        self._alerts = alerts
        self._gap_grace_s = gap_grace_s
        """A gap is alerted only once it stayed open this long (see ``GAP_GRACE_S``)."""
        self._clock = clock or (lambda: datetime.now(UTC))
        self.control: PartitionControl | None = None
        """The consumer of the last batch: who owns which partitions (the alert timer asks)."""
        self._docs = DocCache()
        self._verdicts: dict[tuple[str, int, int], Verdict] = {}
        """Verdicts of records read and held, until they are released (bounded below)."""
        self._batch_verdicts: dict[tuple[str, int, int], Verdict] = {}
        """The verdicts of the batch being applied: a record it holds and releases again (its
        predecessor further on in the batch) is not verified a second time."""
        self._sought: dict[tuple[str, int], int] = {}
        """Partitions this consumer just sought, and to where (until their next batch)."""
        self._epochs: dict[tuple[str, int], int] = {}
        """How many times each partition was sought: a batch fetched before the last seek of
        one of its partitions (``consumers.pipeline`` fetches ahead) is stale there."""
        self._held: HeldIndex | None = None
        """Every record held in the store as this process's last batch left them, when few;
        ``None``: read them from the store. Used only while no other process's batch (several
        consumers may write one store) committed since: ``_held_at`` tells."""
        self._held_at: tuple[str, int] = ("", -1)
        """The generation and held records' version (``holding.held_version``, counted per
        generation: a rebuild's swap may meet the same number) ``_held`` is of."""

    async def _verify_held(self, records: Sequence[RawRecord]) -> list[Verdict]:
        """Verdicts for records released from hold: the one given when they were read (kept in
        memory while held), else verified again (held by an earlier run of the consumer)."""
        keys = [(r.topic, r.partition, r.offset) for r in records]
        known = {k: v for k in keys
                 if (v := self._verdicts.get(k) or self._batch_verdicts.get(k)) is not None}
        missing = [r for r, k in zip(records, keys, strict=True) if k not in known]
        fresh = dict(zip([(r.topic, r.partition, r.offset) for r in missing],
                         await self.stage.check_batch(missing), strict=True)) if missing else {}
        return [known.get(k) or fresh[k] for k in keys]

    def owned(self) -> set[tuple[str, int]]:
        """The partitions this consumer owns now (none before its first batch)."""
        if self.control is None:
            return set()
        return {(tp.topic, tp.partition) for tp in self.control.assignment()}

    def ends(self) -> dict[tuple[str, int], int | None]:
        """The end offset the consumer last saw of each partition it owns (``None``: not yet
        fetched), to tell which views are at the end of the log."""
        if self.control is None:
            return {}
        return {(tp.topic, tp.partition): self.control.highwater(tp)
                for tp in self.control.assignment()}

    def positioned(self, topic: str, partition: int, offset: int) -> None:
        """The consumer was moved to ``offset`` (on assignment, or by a re-seek)."""
        self._sought[(topic, partition)] = offset
        self._epochs[(topic, partition)] = self._epochs.get((topic, partition), 0) + 1

    def epoch(self, topic: str, partition: int) -> int:
        """How many times the partition was sought (stamped on a batch when it is polled)."""
        return self._epochs.get((topic, partition), 0)

    def epochs(self, records: Sequence[RawRecord]) -> dict[tuple[str, int], int]:
        """The seek count of each partition of ``records``, taken when they were fetched."""
        return {(r.topic, r.partition): self.epoch(r.topic, r.partition) for r in records}

    def reread(self, control: PartitionControl, records: Sequence[RawRecord]) -> None:
        """Have ``records`` read again: each of their partitions sought back to its first."""
        first: dict[tuple[str, int], int] = {}
        for r in records:
            first.setdefault((r.topic, r.partition), r.offset)
        for tp, offset in first.items():
            self._seek(control, tp, offset)

    async def apply(
        self, records: Sequence[RawRecord], control: PartitionControl,
        verdicts: Sequence[Verdict] | None = None,
        epochs: Mapping[tuple[str, int], int] | None = None, *,
        registry_version: int | None = None,
    ) -> BatchOutcome:
        """Apply one polled batch. ``verdicts``: the records' verdicts if verified already
        (``consumers.verify_pool``), against the registry at ``registry_version`` (used only if
        the registry is still at that version once refreshed); ``epochs``: ``epochs(records)``
        when they were polled, if that was before this call (a partition sought since is left
        out: it is read again)."""
        self.control = control
        owned = {(tp.topic, tp.partition) for tp in control.assignment()}
        by_tp: dict[tuple[str, int], list[RawRecord]] = {}
        for record in records:
            by_tp.setdefault((record.topic, record.partition), []).append(record)
        stale = {tp for tp in by_tp
                 if epochs is not None and epochs.get(tp, 0) != self._epochs.get(tp, 0)}
        by_tp = {tp: items for tp, items in by_tp.items() if tp not in stale}
        fetch_start = {tp: self._sought.pop(tp, None) for tp in by_tp}
        mine = {tp: items for tp, items in by_tp.items() if tp in owned}
        given = (None if verdicts is None
                 else dict(zip(map(id, records), verdicts, strict=True)))
        started = time.perf_counter()
        try:
            outcome = await self._apply(mine, fetch_start, control, given, registry_version)
        except BaseException:
            self._held = None  # the batch's transaction rolled back: read them again
            VIEW_BATCHES.labels(outcome="retried").inc()
            for tp, items in mine.items():  # read them again; the stored offsets sort it out
                self._seek(control, tp, items[0].offset)
            raise
        finally:
            self._batch_verdicts = {}
        for tp, offset in outcome.reseek.items():
            self._seek(control, tp, offset)
        assigned = set(control.assignment())  # a partition revoked meanwhile has no highwater
        for tp, offset in outcome.committed.items():
            partition = TopicPartition(*tp)
            end = control.highwater(partition) if partition in assigned else None
            if end is not None:
                VIEW_LAG.labels(topic=tp[0], partition=str(tp[1])).set(max(end - offset, 0))
        VIEW_BATCHES.labels(outcome="applied").inc()
        seconds = time.perf_counter() - started
        VIEW_BATCH_SECONDS.observe(seconds)
        skipped = (outcome.skipped + sum(len(v) for k, v in by_tp.items() if k not in owned)
                   + len(records) - sum(len(v) for v in by_tp.values()))
        log.info("batch_applied", records=len(records), applied=outcome.applied,
                 rejected=outcome.rejected, skipped=skipped, reseek=len(outcome.reseek),
                 stale=len(stale), held=outcome.held, ms=round(seconds * 1000, 1))
        return BatchOutcome(outcome.applied, outcome.rejected, skipped, outcome.reseek,
                            outcome.committed, outcome.held)

    async def _check(self, flat: list[RawRecord],
                     given: dict[int, Verdict] | None) -> dict[int, Verdict]:
        """Each record's verdict by ``id``: checked here, or settled if given."""
        checked = (await self.stage.check_batch(flat) if given is None
                   else await self.stage.settle(flat, [given[id(r)] for r in flat]))
        self._batch_verdicts = {(r.topic, r.partition, r.offset): v
                                for r, v in zip(flat, checked, strict=True)}
        return dict(zip((id(r) for r in flat), checked, strict=True))

    def _remember(self, gate: Gate, verdicts: dict[int, Verdict],
                  todo: Sequence[RawRecord]) -> None:
        """Keep the verdicts of this batch's records that stay held (at most ``VERDICTS``),
        without the worker's provenance (~0.9 KB each, written again on release)."""
        for record in todo:
            key = (record.topic, record.partition, record.offset)
            if key in gate.held and len(self._verdicts) < VERDICTS:
                verdict = verdicts[id(record)]
                if isinstance(verdict, Accepted) and verdict.provenance is not None:
                    verdict = replace(verdict, provenance=None)
                self._verdicts[key] = verdict

    def _seek(self, control: PartitionControl, tp: tuple[str, int], offset: int) -> None:
        partition = TopicPartition(*tp)
        if partition in control.assignment():
            control.seek(partition, offset)
            self.positioned(*tp, offset)

    async def _apply(
        self, by_tp: dict[tuple[str, int], list[RawRecord]],
        fetch_start: dict[tuple[str, int], int | None], control: PartitionControl,
        given: dict[int, Verdict] | None = None, registry_version: int | None = None,
    ) -> BatchOutcome:
        if self._registry is not None:
            await self._registry.refresh(force=False)
            if given is not None and getattr(self._registry, "version", None) != registry_version:
                given = None  # judged against an older registry: verify again, here
        verdicts = await self._check([r for items in by_tp.values() for r in items], given)
        async with self.store.writing(self._generation) as (conn, tables):
            version = await lock_batches(conn, tables)  # one batch at a time per store
            # a rebalance while the batch waited for the lock: leave the partitions this
            # process no longer owns to their new owner (their stored offsets would refuse a
            # record applied twice anyway; this only spares the work)
            assigned = {(tp.topic, tp.partition) for tp in control.assignment()}
            lost = sum(len(items) for tp, items in by_tp.items() if tp not in assigned)
            by_tp = {tp: items for tp, items in by_tp.items() if tp in assigned}
            stored = await lock_offsets(conn, tables, by_tp)
            todo, reseek, skipped = select(by_tp, stored, fetch_start)
            items = [(r, verdicts[id(r)]) for r in todo]
            accepted = [v for _, v in items if isinstance(v, Accepted)]
            fold = await load(conn, tables, [(v, position_of(r)) for r, v in items
                                             if isinstance(v, Accepted)], self._docs)

            async def load_subjects(batch: Sequence[tuple[Accepted, Position]]) -> None:
                await load_more(conn, tables, fold, batch, self._docs)

            named = accepted + [v for _, v in items if isinstance(v, RefusedEvent)]
            sources = {v.envelope.source for v in named if v.envelope is not None}
            known = (self._held if self._held_at == (tables.generation, version)
                     else None)  # else another process wrote, or another generation is live
            gate = await Gate.open(conn, tables, fold, self._verify_held, load_subjects,
                                   sources, chains=self._chains, known=known,
                                   stale=self._held.held() if known is None and self._held
                                   else None)
            self._held = None  # taken: kept again once the batch commits
            await gate.prefetch(sources, {a.envelope.subject for a in accepted},
                                {(v.envelope.source, v.envelope.sequence)
                                 for v in named if v.envelope is not None})
            letters: list[DeadLetter] = []
            for record, verdict in await gate.chain_order(items):
                if isinstance(verdict, Rejected):
                    letters.append(self.dlq.letter(record, verdict))
                    if isinstance(verdict, RefusedEvent) and verdict.envelope is not None:
                        await gate.admit_refused(verdict.envelope, record)  # keeps its place
                else:
                    await gate.admit(verdict, record)
            letters += [self.dlq.letter(r, why) for r, why in gate.refused]
            for accepted_item, _ in gate.applied:
                _applied(accepted_item)
            await self.dlq.send(letters)
            offsets = {(r.topic, r.partition): r.offset + 1 for r in todo}
            notices = [held_letter(self.dlq, h, Reason.FORK) for h in gate.forks]
            if self.dlq.alerting and await caught_up(conn, tables, gate, offsets, control):
                notices += [held_letter(self.dlq, h, Reason.SEQUENCE_GAP)
                            for h in await gate.open_gaps(self._clock(), self._gap_grace_s)]
            await self.dlq.notify(notices)
            changes = fold.changes()
            await write(conn, tables, changes, offsets, datetime.now(UTC), self._docs)
            await gate.write()
            after = await bump_held_version(conn, tables)
            self._remember(gate, verdicts, todo)
            raised = (await self._alerts.on_batch(conn, tables, gate.applied, changes)
                      if self._alerts is not None else [])
        self._verdicts = {k: v for k, v in self._verdicts.items() if k in gate.held}
        # kept only if no other batch (another process on this store) finished meanwhile
        self._held = gate.complete_held() if after == version + 1 else None
        self._held_at = (tables.generation, after)
        if self._alerts is not None:
            self._alerts.committed(raised)
        await self.store.grew(tables, len(changes.new_entries))
        return BatchOutcome(len(gate.applied), len(letters), skipped + lost, reseek, offsets,
                            held=gate.held_now())


    async def sweep_gaps(self) -> int:
        """Alert the gaps whose grace ran out since the last batch, when the consumer is at the
        end of every partition: a source that goes quiet after its gap sends no batch that would
        (``run_views`` calls this every few seconds). Returns how many were alerted."""
        control = self.control
        if control is None or not self._chains or not self.dlq.alerting:
            return 0
        async with self.store.writing(self._generation) as (conn, tables):
            await lock_batches(conn, tables)
            fold = await load(conn, tables, [], self._docs)

            async def load_subjects(batch: Sequence[tuple[Accepted, Position]]) -> None:
                await load_more(conn, tables, fold, batch, self._docs)

            gate = await Gate.open(conn, tables, fold, self._verify_held, load_subjects, set())
            if not await caught_up(conn, tables, gate, {}, control):
                return 0
            found = await gate.open_gaps(self._clock(), self._gap_grace_s)
            if not found:
                return 0
            await self.dlq.notify([held_letter(self.dlq, h, Reason.SEQUENCE_GAP) for h in found])
            await gate.write()
            self._held = None  # others' cached held records are stale too: the version moves
            self._held_at = (tables.generation, await bump_held_version(conn, tables))
            raised = (await self._alerts.on_batch(conn, tables, [], fold.changes())
                      if self._alerts is not None else [])
        if self._alerts is not None:
            self._alerts.committed(raised)
        log.info("gap_alerts_swept", alerted=len(found))
        return len(found)


def _applied(verdict: Verdict) -> None:
    assert isinstance(verdict, Accepted)
    env = verdict.envelope
    VIEW_EVENTS.labels(family=FAMILIES[verdict.family].name).inc()
    log.debug("view_updated", event_id=env.id, org=env.org, type=env.type, subject=env.subject)
