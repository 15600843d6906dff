"""Polled batches that take the partitions in step, by record time, not one after the other.

aiokafka hands a poll's records over partition by partition: ``getmany(max_records=500)``
empties the first partition's fetched data (up to ``max_partition_fetch_bytes``, 1 MB: ~1,400
of our records) before it gives a single record of the next. A source writes to every
partition (its subjects'), so a consumer catching up read a source's later events from one
partition while their predecessors waited, unread, in the others: up to 7k of 10k records were
held at some point, each one written to the store and deleted again, and the held-record
stage was the largest part of the consumer's time (docs/performance.md, "Fifth pass").

``take_in_step`` builds the same batch size from every partition that has records fetched,
a chunk at a time, always from the partition whose last record taken is the oldest. What is
taken from each partition is still a run of consecutive offsets from its position (aiokafka
hands over nothing else), so the store's offset checks and exactly-once are untouched; only
which partitions a batch covers changes. A partition with nothing fetched yet is not waited
for: its records come in a later batch and, as before, are held until their predecessors come.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection
from typing import Any

CHUNK = 64
"""Records taken from one partition at a time, at most; fewer when the batch has many
partitions to cover (see ``chunk_of``)."""

GetMany = Callable[..., Awaitable[dict[Any, list[Any]]]]
"""``AIOKafkaConsumer.getmany`` (``*partitions, timeout_ms=, max_records=``)."""


def chunk_of(limit: float, partitions: int) -> int:
    """A chunk small enough that a full batch takes at least two from each partition (a batch
    of 500 over 18 partitions: 13), so that it covers them all, and at most ``CHUNK``."""
    if math.isinf(limit):
        return CHUNK
    return int(max(1, min(CHUNK, limit // (2 * max(partitions, 1)))))


async def take_in_step(getmany: GetMany, assigned: Collection[Any], *, timeout_ms: int,
                       max_records: int | None) -> dict[Any, list[Any]]:
    """Up to ``max_records`` records from the ``assigned`` partitions, the oldest first a chunk
    at a time. Waits up to ``timeout_ms`` for the first record, never for more."""
    limit = max_records if max_records is not None else math.inf
    chunk = chunk_of(limit, len(assigned))
    first = await getmany(timeout_ms=timeout_ms, max_records=int(min(limit, chunk)))
    taken: dict[Any, list[Any]] = {tp: list(records) for tp, records in first.items() if records}
    if not taken:
        return {}  # nothing came within the wait
    count = sum(len(records) for records in taken.values())
    last = {tp: records[-1].timestamp for tp, records in taken.items()}
    dry: set[Any] = set()
    while count < limit:
        open_ = [tp for tp in assigned if tp not in dry]
        if not open_:
            break
        tp = min(open_, key=lambda t: last.get(t, -math.inf))  # never taken yet: first
        more = (await getmany(tp, timeout_ms=0,
                              max_records=int(min(chunk, limit - count)))).get(tp, [])
        if not more:
            dry.add(tp)  # nothing fetched for it now: the batch goes without it
            continue
        taken.setdefault(tp, []).extend(more)
        count += len(more)
        last[tp] = more[-1].timestamp
    return taken
