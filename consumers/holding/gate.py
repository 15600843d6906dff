"""``Gate``: one batch's chain and subject stages, in front of the fold; written with the batch.

A batch opens its gate (``Gate.open``: the chains of its sources, the held records), prepares
what it may release (``prefetch``), puts its records through in chain order (``chain_order``,
``admit``, ``admit_refused``), names the gaps to alert (``open_gaps``) and writes the chains and
held records as it leaves them (``write``). The stages themselves are ``consumers.holding.chain``,
``.forks`` and ``.subjects``; the held records, ``consumers.holding.held``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.fold import Fold
from consumers.holding import chain as chain_stage
from consumers.holding.batch import Batch
from consumers.holding.held import HeldIndex, HeldSet
from consumers.holding.records import (
    Chain,
    Held,
    Hold,
    LoadSubjects,
    Verify,
    position_of,
)
from consumers.holding.store import read_chains, write_chains
from consumers.store_schema import Tables
from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, RawRecord, Verdict
from schemas.envelope import Envelope


@dataclass(slots=True)
class Gate(Batch):
    """One batch's chain and subject stages, in front of the fold; written with the batch."""

    @classmethod
    async def open(cls, conn: AsyncConnection, tables: Tables, fold: Fold, verify: Verify,
                   load_subjects: LoadSubjects, sources: set[str], *,
                   chains: bool = True, known: HeldIndex | None = None,
                   stale: Collection[Held] | None = None) -> Gate:
        """The gate of a batch. ``known``: every record held in the store, as the previous
        batch of this process left them (``complete_held``), instead of reading them again.
        ``stale``: the same, but another process's batch committed since: the held rows are
        read again, but not the records this process has already (a record at a log position
        never changes), only those another process held."""
        found: dict[str, Chain] = await read_chains(conn, tables, sources) if sources else {}
        held = await HeldSet.open(conn, tables, known=known, stale=stale)
        return cls(conn, tables, fold, verify, load_subjects, held, found,
                   chains_checked=chains)

    def complete_held(self) -> HeldIndex | None:
        """Every record held once this batch is written, indexed, if the gate had them all in
        memory (else ``None``: the next batch reads them from the store)."""
        return self.held.carry()

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
        await self.held.load(sources=sources, subjects=subjects)
        self.held.sources_loaded |= sources
        self.held.subjects_loaded |= subjects
        if not self.held.all_read:
            return
        if places is None:
            waiting = [h.record for h in self.held
                       if h.reason is not Hold.LINK and h.source in sources]
        else:
            waiting = self._releasable(sources, subjects, places)
        if waiting:
            verdicts = await self.verify(waiting)
            await self.load_subjects([(v, position_of(r)) for v, r in zip(verdicts, waiting,
                                                                          strict=True)
                                      if isinstance(v, Accepted)])
            self.verdicts = {(r.topic, r.partition, r.offset): v
                             for r, v in zip(waiting, verdicts, strict=True)}

    def _releasable(self, sources: set[str], subjects: set[str],
                    places: Collection[tuple[str, int]]) -> list[StoredRecord]:
        """The held records a batch taking ``places`` may release (see ``prefetch``)."""
        taken = set(places)
        reached: list[Held] = []
        for source in sources:
            at = self.chains.get(source) or Chain()  # no row: nothing of it linked yet
            n = at.head + 1
            while at.forked_at is None or n < at.forked_at:
                here = [h for h in self.held.by_place.get((source, n), ())
                        if h.reason in (Hold.GAP, Hold.LINK)]
                if not here and (source, n) not in taken:
                    break
                reached += [h for h in here if h.reason is Hold.GAP]
                n += 1
        touched = subjects | {h.subject for h in reached}
        behind = [h for subject in touched for h in self.held.by_subject.get(subject, ())
                  if h.reason is Hold.BEHIND]
        return [h.record for h in {id(h): h for h in reached + behind}.values()]

    # ---- the stages (``consumers.holding.chain``) ---------------------------------------

    async def chain_order(self, items: Sequence[tuple[RawRecord, Verdict]]
                          ) -> list[tuple[RawRecord, Verdict]]:
        """The batch in an order that follows each source's chain where it can (see
        ``consumers.holding.chain.chain_order``): any order that keeps each partition's
        gives the same views."""
        return await chain_stage.chain_order(self, items)

    async def admit(self, accepted: Accepted, record: RawRecord) -> None:
        """A newly read, verified record: judge its order and chain, then apply or hold it."""
        await chain_stage.admit(self, accepted, record)

    async def admit_refused(self, env: Envelope, record: RawRecord) -> None:
        """An authentic record the verification stage refused: it keeps its chain place."""
        await chain_stage.admit_refused(self, env, record)

    # ---- alerts and writing --------------------------------------------------------------

    async def open_gaps(self, now: datetime | None = None, grace_s: float = 0.0) -> list[Held]:
        """Gap-held records no alert was raised for yet, held for at least ``grace_s`` seconds
        before ``now`` (marked raised by this call). Younger ones wait for a later call: during
        a partition's failover a source's next event can come first and its predecessor
        seconds later, and such a passing gap is no news (a record of unknown hold time counts
        as old). The forks found in this batch are marked raised too."""
        found = await self.held.open_gaps(now, grace_s)
        for held in self.forks:
            held.alerted = True
        return found

    async def write(self) -> None:
        """Store the chains and the held records as this batch leaves them."""
        if self.dirty_chains:
            await write_chains(self.conn, self.tables,
                               {s: self.chains[s] for s in sorted(self.dirty_chains)})
        await self.held.write()

    def may_hold(self) -> bool:
        """Whether anything is held (in the store, or by this batch)."""
        return self.held.may_hold()

    def held_now(self) -> int:
        return len(self.held)
