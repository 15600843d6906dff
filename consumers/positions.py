"""Which records of a polled batch to apply, given the offsets the views store holds.

The exactly-once rule of ``consumers.sync``, on its own: records below a partition's stored
offset were applied already; a batch that starts above it is re-read from the stored offset,
unless the consumer was just sought there (a transactional producer's control records leave
holes in the log's offsets).
"""

from __future__ import annotations

from consumers.verification import RawRecord


def select(
    by_tp: dict[tuple[str, int], list[RawRecord]], stored: dict[tuple[str, int], int],
    fetch_start: dict[tuple[str, int], int | None],
) -> tuple[list[RawRecord], dict[tuple[str, int], int], int]:
    """Records to apply now; partitions to re-read from their stored offset; how many skipped."""
    todo: list[RawRecord] = []
    reseek: dict[tuple[str, int], int] = {}
    skipped = 0
    for tp, items in by_tp.items():
        start = stored[tp]
        fresh = [r for r in items if r.offset >= start]
        skipped += len(items) - len(fresh)
        if not fresh:
            if items[-1].offset + 1 < start:
                reseek[tp] = start  # far behind the store: jump ahead instead of reading on
            continue
        if fresh[0].offset != start and fetch_start[tp] != start:
            reseek[tp] = start  # records between the stored offset and this batch are missing
            skipped += len(fresh)
            continue
        todo += fresh
    return todo, reseek, skipped
