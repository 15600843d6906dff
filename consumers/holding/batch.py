"""What one batch's chain and subject stages share: the fold they apply to, the source chains
and held records they read and change, and what they decided (applied, refused, forks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.fold import Fold, Position
from consumers.holding.held import HeldSet
from consumers.holding.records import Chain, Held, Key, LoadSubjects, Verify
from consumers.holding.store import read_chain
from consumers.store_schema import Tables
from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, RawRecord, Rejected, Verdict


@dataclass(slots=True)
class Batch:
    """The state of one batch in front of the fold; ``Gate`` is its entry point."""

    conn: AsyncConnection
    tables: Tables
    fold: Fold
    verify: Verify
    load_subjects: LoadSubjects
    held: HeldSet
    chains: dict[str, Chain] = field(default_factory=dict)
    applied: list[tuple[Accepted, Position]] = field(default_factory=list)
    refused: list[tuple[RawRecord, Rejected]] = field(default_factory=list)
    forks: list[Held] = field(default_factory=list)
    """Records a fork was found at in this batch (each raises an alert)."""
    dirty_chains: set[str] = field(default_factory=set)
    verdicts: dict[Key, Verdict] = field(default_factory=dict)
    """Verdicts of the held records, taken once per batch (``Gate.prefetch``)."""
    chains_checked: bool = True

    async def chain(self, source: str) -> Chain:
        chain = self.chains.get(source)
        if chain is None:  # a source the batch's verified records did not name
            chain = await read_chain(self.conn, self.tables, source)
            self.chains[source] = chain
        return chain

    async def verdict(self, record: StoredRecord) -> Verdict:
        """A held record's verdict: the one prepared for this batch, else verified now."""
        found = self.verdicts.pop((record.topic, record.partition, record.offset), None)
        return found if found is not None else (await self.verify([record]))[0]
