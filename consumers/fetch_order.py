"""Polled batches that take the partitions in step, by record time, not one after the other.

aiokafka hands a poll's records over partition by partition: ``getmany(max_records=500)``
empties the first partition's fetched data (up to ``max_partition_fetch_bytes``, 1 MB: ~1,400
of our records) before it gives a single record of the next. A source writes to every
partition (its subjects'), so a consumer catching up read a source's later events from one
partition while their predecessors waited, unread, in the others: up to 7k of 10k records were
held at some point, each one written to the store and deleted again (docs/performance.md,
"Fifth pass").

``InStep.take`` builds the same batch size from every partition that has records fetched,
a chunk at a time, always from the partition whose last record taken is the oldest. What is
taken from each partition is still a run of consecutive offsets from its position (aiokafka
hands over nothing else); only which partitions a batch covers changes. A partition with
nothing fetched yet is not waited for: its records come in a later batch and, as before, are
held until their predecessors come.

Where each partition stands in time is kept from batch to batch, so a partition far ahead is
not taken again until the others have caught up (but for the one record the batch's first,
waiting, poll may take of it, and for ``DUE``: a partition is never left out for good). Before,
each batch began with a chunk of *every* partition (none taken yet in that batch counted as the
oldest): a catching-up consumer took ~80 records per batch from partitions 1-2 s ahead of the
rest, and held up to ~2,000 records at once in ``bench_views`` (20k events; ~650 since).
Records of one moment still straddle batches: the SDK writes one call's records within the same
millisecond, over several partitions, so time cannot order them, and about half of a catch-up's
records are held for a batch or two (docs/performance.md, "Seventh pass").

A batch is several ``getmany`` calls, and aiokafka moves a partition's position as it hands
records over. So an error one of the later calls raises (aiokafka raises a partition's fetch
error when a call has taken nothing yet) must not throw away what the earlier calls took: it is
kept and raised at the start of the next ``take``, after the records taken are returned, as
aiokafka itself does within one call. A seek between the calls is the caller's to handle (the
view consumer's pipeline reads such a partition again, see ``consumers.pipeline``).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import structlog

log = structlog.get_logger("consumers.fetch_order")

CHUNK = 64
"""Records taken from one partition at a time, at most; fewer when the batch has many
partitions to cover (see ``chunk_of``)."""

DUE = 8
"""A partition left out of this many batches in a row is taken first in the next, whatever its
time says. Any producer sets its records' time (CreateTime): one stamped far in the future would
otherwise keep its partition, and every subject in it, behind the others for as long as they
have records, for good under a steady load. Now at most this many batches."""

GetMany = Callable[..., Awaitable[dict[Any, list[Any]]]]
"""``AIOKafkaConsumer.getmany`` (``*partitions, timeout_ms=, max_records=``)."""


def chunk_of(limit: float, partitions: int) -> int:
    """A chunk small enough that a full batch takes at least two from each partition (a batch
    of 500 over 18 partitions: 13), so that it covers them all, and at most ``CHUNK``."""
    if math.isinf(limit):
        return CHUNK
    return int(max(1, min(CHUNK, limit // (2 * max(partitions, 1)))))


class InStep:
    """Takes batches in step from one consumer; holds back an error until its next call."""

    def __init__(self) -> None:
        self._deferred: Exception | None = None
        self._last: dict[Any, tuple[int, int]] = {}
        """Per partition: its seek count and the time of the last record handed over."""
        self._left_out: dict[Any, int] = {}
        """Per partition: how many batches in a row it had no record in (see ``DUE``)."""

    async def take(self, getmany: GetMany, assigned: Collection[Any], *, timeout_ms: int,
                   max_records: int | None,
                   sought: Callable[[Any], int] = lambda _: 0) -> dict[Any, list[Any]]:
        """Up to ``max_records`` records (every fetched one if ``None``) from the
        ``assigned`` partitions, the oldest first a chunk at a time. Waits up to
        ``timeout_ms`` for the first record, never for more. ``sought``: how many times a
        partition was sought (a partition's time is forgotten when it moves)."""
        if self._deferred is not None:
            error, self._deferred = self._deferred, None
            raise error
        limit = max_records if max_records is not None else math.inf
        chunk = chunk_of(limit, len(assigned))
        # one record: aiokafka hands it from the partition first in its buffer, which is the
        # one *not* drained lately (a drained partition goes to the end when fetched again):
        # often the one furthest ahead in time, which the in-step loop would leave alone
        first = await getmany(timeout_ms=timeout_ms, max_records=1)
        taken: dict[Any, list[Any]] = {tp: list(rs) for tp, rs in first.items() if rs}
        if not taken:
            return {}  # nothing came within the wait
        count = sum(len(records) for records in taken.values())
        # the time of the last record handed over of each partition, kept from batch to batch
        # unless it was sought since (``sought``: how many times it was)
        seeks = {tp: sought(tp) for tp in assigned}
        last = {tp: t for tp, (n, t) in self._last.items() if seeks.get(tp) == n}
        last.update((tp, records[-1].timestamp) for tp, records in taken.items())
        due = {tp for tp in assigned if self._left_out.get(tp, 0) >= DUE and tp not in taken}
        dry: set[Any] = set()
        while count < limit:
            open_ = [tp for tp in assigned if tp not in dry]
            if not open_:
                break
            # left out too long, or never taken yet: first; then the oldest in time
            tp = min(open_, key=lambda t: -math.inf if t in due else last.get(t, -math.inf))
            try:
                got = await getmany(tp, timeout_ms=0, max_records=int(min(chunk, limit - count)))
            except Exception as exc:  # noqa: BLE001 - raised on the next take, as aiokafka does
                log.warning("poll_error_deferred", partition=str(tp), error=repr(exc)[:300],
                            records=count)
                self._deferred = exc
                break
            more = got.get(tp, [])
            if not more:
                dry.add(tp)  # nothing fetched for it now: the batch goes without it
                continue
            taken.setdefault(tp, []).extend(more)
            count += len(more)
            last[tp] = more[-1].timestamp
            due.discard(tp)
        self._left_out = {tp: 0 if tp in taken else self._left_out.get(tp, 0) + 1
                          for tp in assigned}
        self._last = {tp: (n, last[tp]) for tp, n in seeks.items()
                      if tp in last and sought(tp) == n}  # not if sought meanwhile
        return taken

