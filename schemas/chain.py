"""Per-source sequence and hash chains: the next link, and what is wrong with a given one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from schemas.signing import GENESIS_HASH


class ChainFault(StrEnum):
    GAP = "sequence_gap"
    """Sequence numbers were skipped: events of this source are missing."""
    REPLAY = "replay"
    """A sequence number already seen again: an old event replayed or duplicated."""
    REORDER = "reorder"
    """A lower sequence number after a higher one: events out of order."""
    BROKEN_LINK = "hash_chain_broken"
    """``prevhash`` is not the hash of the source's previous event: history was rewritten."""
    BAD_GENESIS = "bad_genesis"
    """The first event of a source must have sequence 1 and the all-zero ``prevhash``."""


@dataclass(frozen=True, slots=True)
class Link:
    """Where a source's chain stands: its last sequence number and that event's hash."""

    sequence: int = 0
    hash: str = GENESIS_HASH

    def next(self) -> tuple[int, str]:
        """``(sequence, prevhash)`` for the source's next event."""
        return self.sequence + 1, self.hash


def check_link(
    last: Link | None,
    sequence: int,
    prevhash: str,
    *,
    seen: frozenset[int] | set[int] = frozenset(),
) -> ChainFault | None:
    """Judge an event against its source's chain so far (``last`` None: first event seen).

    For a reader of the whole log (the audit): the chain must be gap-free and linked.
    """
    if last is None:
        if sequence != 1 or prevhash != GENESIS_HASH:
            return ChainFault.BAD_GENESIS if sequence == 1 else ChainFault.GAP
        return None
    if sequence <= last.sequence:
        return (
            ChainFault.REPLAY
            if sequence in seen or sequence == last.sequence
            else ChainFault.REORDER
        )
    if sequence > last.sequence + 1:
        return ChainFault.GAP
    if prevhash != last.hash:
        return ChainFault.BROKEN_LINK
    return None


def check_partition_order(last_sequence: int | None, sequence: int) -> ChainFault | None:
    """For a live reader of one partition: each source's sequence must strictly increase there.

    A source's events spread over partitions, so gaps are expected here; only a number that does
    not increase (a replay or a reorder) can be judged.
    """
    if last_sequence is not None and sequence <= last_sequence:
        return ChainFault.REPLAY if sequence == last_sequence else ChainFault.REORDER
    return None
