"""Reading a log by offsets: "from the start (or a given offset) to the end offsets taken at the
start", and "from here on, until told to stop". The one place these loops are written.

Every reader of the bus that assigns partitions itself (the registry, the audit, the alerts
readers, the demo's summary) reads like this: a group-less consumer (it commits nothing and
disturbs no live consumer), partitions from the cluster's metadata, a seek, then fetches until
each partition's *position* reaches the end taken at the start. The position, not the offset of
the last record seen: compaction and transaction markers leave gaps, and a partition whose last
offsets are a gap would otherwise never be done. Records appended after the end was taken are
not yielded (a read to the end is a snapshot), and a consumer kept between reads is put back at
that end, so the next read starts with them.

Errors are the broker's (``KafkaError``, ``OSError``) and ``TimeoutError`` (no broker answer, or
no progress, for ``timeout_s``); callers turn them into their own messages (``refusal`` names a
refused principal). A topic that does not exist raises ``MissingTopicError`` unless the reader
asked to skip such topics.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import aclosing, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import structlog

from transport.errors import MissingTopicError
from transport.kafka import Consumer, KafkaError, Record, TopicPartition
from transport.meta import partition_counts

if TYPE_CHECKING:
    from datetime import datetime

    from transport.access import KafkaAccess

log = structlog.get_logger("transport.read")

Missing = Literal["raise", "skip"]
"""What to do about a topic that does not exist."""

FETCH_MS = 200
"""How long one fetch waits for records before the reader looks at its partitions again."""


def group_less(kafka: KafkaAccess, timeout_s: float, **options: Any) -> Consumer:
    """A consumer that joins no group and commits nothing; ``options`` go to aiokafka."""
    return Consumer(**kafka.aiokafka(), group_id=None, enable_auto_commit=False,
                            request_timeout_ms=int(max(timeout_s, 1.0) * 1000), **options)


@asynccontextmanager
async def opened(kafka: KafkaAccess, timeout_s: float,
                 **options: Any) -> AsyncIterator[Consumer]:
    """A started ``group_less`` consumer, stopped on exit (both bounded by ``timeout_s``)."""
    consumer = group_less(kafka, timeout_s, **options)
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
    except BaseException:
        await consumer.stop()
        raise
    try:
        yield consumer
    finally:  # bounded: a reader that has what it needs must not hang on a broker's goodbye
        try:
            await asyncio.wait_for(consumer.stop(), timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("kafka_reader_stop_failed", error=repr(error)[:200])


async def topic_partitions(kafka: KafkaAccess, topics: Iterable[str], *, timeout_s: float,
                           missing: Missing = "raise") -> list[TopicPartition]:
    """Every partition of ``topics`` (one metadata request). ``missing="skip"`` leaves out a
    topic that does not exist; otherwise it raises ``MissingTopicError``."""
    wanted = list(dict.fromkeys(topics))
    counts = await partition_counts(kafka, wanted, timeout_s=timeout_s)
    if missing != "skip":
        for topic in wanted:
            if topic not in counts:
                raise MissingTopicError(topic)
    return [TopicPartition(t, p) for t in wanted for p in range(counts.get(t, 0))]


async def drain(consumer: Consumer, ends: Mapping[TopicPartition, int], *,
                timeout_s: float, fetch_ms: int = FETCH_MS,
                max_records: int | None = None) -> AsyncGenerator[list[Record], None]:
    """Batches of records of the (assigned) partitions in ``ends``, from each one's current
    position up to its end offset (excluded). Partitions are resumed while read and paused
    once done and on exit, so a consumer kept between reads does not long-poll idle ones.

    Raises ``TimeoutError`` when no partition advanced for ``timeout_s``.
    """
    todo = {tp for tp, end in ends.items()
            if await asyncio.wait_for(consumer.position(tp), timeout_s) < end}
    loop = asyncio.get_running_loop()
    progressed = loop.time()
    consumer.resume(*todo)
    try:
        while todo:
            batches = await asyncio.wait_for(
                consumer.getmany(*todo, timeout_ms=fetch_ms, max_records=max_records),
                timeout_s + fetch_ms / 1000)
            out: list[Record] = []
            for tp in sorted(batches, key=lambda t: (t.topic, t.partition)):
                records = batches[tp]
                out.extend(r for r in records if r.offset < ends[tp])
                if records and records[-1].offset >= ends[tp]:
                    consumer.seek(tp, ends[tp])  # appended since: the next read's, not this one's
            done = [tp for tp in sorted(todo, key=lambda t: (t.topic, t.partition))
                    if await consumer.position(tp) >= ends[tp]]
            todo.difference_update(done)
            consumer.pause(*done)
            if out or done:  # a partition ending in a gap (compaction, markers) ends with none
                progressed = loop.time()
            if out:
                yield out
                progressed = loop.time()  # the caller's time with the batch is not the broker's
            elif loop.time() - progressed > timeout_s:
                names = sorted(f"{tp.topic}[{tp.partition}]" for tp in todo)
                raise TimeoutError(f"no records from {names} for {timeout_s:g}s")
    finally:
        consumer.pause(*ends)


async def poll(consumer: Consumer, fetch_ms: int) -> list[tuple[TopicPartition, list[Record]]]:
    """One fetch of the consumer's assigned (unpaused) partitions: each partition's records, in
    partition order; empty when nothing came within ``fetch_ms``."""
    batches = await consumer.getmany(timeout_ms=fetch_ms)
    return [(tp, batches[tp]) for tp in sorted(batches, key=lambda t: (t.topic, t.partition))]


async def behind(consumer: Consumer, ends: Mapping[TopicPartition, int]) -> bool:
    """Whether some partition of ``ends`` is still short of its end offset (its position)."""
    return any([await consumer.position(tp) < end for tp, end in ends.items()])


async def fetch_some(consumer: Consumer, pending: Callable[[], Awaitable[bool]], *,
                     timeout_s: float, max_records: int | None = None,
                     fetch_ms: int = FETCH_MS) -> list[Record] | None:
    """The records of the next fetch that brings any (all partitions, as fetched), or
    ``None`` once ``pending()`` (e.g. ``behind`` the ends) says there is nothing left.

    Unlike ``drain`` it keeps no state between calls: a caller that seeks back (to read a batch
    again after it failed to apply it) gets the same records again. Records appended after the
    end a caller had in mind may come along in the last fetch.

    Raises ``TimeoutError`` when, for ``timeout_s``, fetches brought no records and moved no
    position of the consumer's assignment (a gap of compaction or transaction markers moves
    positions without records: that is progress, as in ``drain``), or a broker call of its own
    (``pending()``, a fetch) did not answer.
    """
    loop = asyncio.get_running_loop()
    progressed = loop.time()
    seen = await asyncio.wait_for(_positions(consumer), timeout_s)
    while await asyncio.wait_for(pending(), timeout_s):
        fetched = await asyncio.wait_for(
            consumer.getmany(timeout_ms=fetch_ms, max_records=max_records),
            timeout_s + fetch_ms / 1000)
        records = [r for batch in fetched.values() for r in batch]
        if records:
            return records
        now = await asyncio.wait_for(_positions(consumer), timeout_s)
        if now != seen:
            seen, progressed = now, loop.time()
        elif loop.time() - progressed > timeout_s:
            names = sorted(f"{tp.topic}[{tp.partition}]" for tp in now)
            raise TimeoutError(f"no records from {names} and no position moved"
                               f" for {timeout_s:g}s")
    return None


async def _positions(consumer: Consumer) -> dict[TopicPartition, int]:
    """The position of each partition the consumer is assigned."""
    return {tp: await consumer.position(tp) for tp in consumer.assignment()}


def seek_to(consumer: Consumer, offsets: Mapping[TopicPartition, int]) -> None:
    """Move each (assigned) partition of ``offsets`` to its offset (no broker request)."""
    for tp, offset in offsets.items():
        consumer.seek(tp, offset)


def assign_from(consumer: Consumer, start: Mapping[TopicPartition, int]) -> None:
    """Assign exactly the partitions of ``start`` and move each to its offset (no broker
    request; the end offsets are the caller's)."""
    consumer.assign(list(start))
    seek_to(consumer, start)


async def assign_from_beginning(consumer: Consumer, tps: list[TopicPartition], *,
                                paused: bool = False) -> None:
    """Assign ``tps``, each to be read from its first offset on the log (found by the first
    fetch: no request now); ``paused`` leaves them paused until a read resumes them."""
    consumer.assign(tps)
    if paused:
        consumer.pause(*tps)
    await consumer.seek_to_beginning(*tps)


async def begin_offsets(consumer: Consumer, tps: Iterable[TopicPartition], *,
                        timeout_s: float) -> dict[TopicPartition, int]:
    """The first offset still on the log of each of ``tps`` (one request, bounded)."""
    tps = list(tps)
    if not tps:
        return {}
    begins: dict[TopicPartition, int] = await asyncio.wait_for(
        consumer.beginning_offsets(tps), timeout_s)
    return begins


async def end_offsets(consumer: Consumer, tps: Iterable[TopicPartition], *,
                      timeout_s: float) -> dict[TopicPartition, int]:
    """The current end offset of each of ``tps`` (one request, bounded)."""
    tps = list(tps)
    if not tps:
        return {}
    ends: dict[TopicPartition, int] = await asyncio.wait_for(consumer.end_offsets(tps), timeout_s)
    return ends


async def offsets_for_times(consumer: Consumer, tps: Iterable[TopicPartition],
                            since: datetime, *, timeout_s: float) -> dict[TopicPartition, int]:
    """The first offset of each of ``tps`` whose record timestamp is at or after ``since``;
    a partition with no such record is left out (one request, bounded)."""
    tps = list(tps)
    if not tps:
        return {}
    moment = int(since.timestamp() * 1000)
    found = await asyncio.wait_for(consumer.offsets_for_times(dict.fromkeys(tps, moment)),
                                   timeout_s)
    return {tp: at.offset for tp, at in found.items() if at is not None}


async def assign_at(consumer: Consumer, tps: list[TopicPartition], *,
                    start: Mapping[TopicPartition, int] | None = None, at_end: bool = False,
                    timeout_s: float) -> dict[TopicPartition, int]:
    """Assign ``tps`` and seek each to ``start`` (if given for it), else its first offset (or
    its end with ``at_end``); returns the end offsets taken now."""
    consumer.assign(tps)
    ends = await end_offsets(consumer, tps, timeout_s=timeout_s)
    begins: dict[TopicPartition, int] = {}
    if not at_end and any(tp not in (start or {}) for tp in tps):
        begins = await begin_offsets(consumer, tps, timeout_s=timeout_s)
    seek_to(consumer, {tp: start[tp] if start is not None and tp in start
                       else ends[tp] if at_end else begins[tp] for tp in tps})
    return ends


async def ends_of(kafka: KafkaAccess, topics: Iterable[str], *, timeout_s: float = 15.0,
                  missing: Missing = "raise") -> dict[TopicPartition, int]:
    """The end offset of every partition of ``topics`` now (one short-lived consumer)."""
    tps = await topic_partitions(kafka, topics, timeout_s=timeout_s, missing=missing)
    if not tps:
        return {}
    async with opened(kafka, timeout_s) as consumer:
        return await end_offsets(consumer, tps, timeout_s=timeout_s)


async def read_to_end(kafka: KafkaAccess, topics: Iterable[str], *, timeout_s: float = 15.0,
                      start: Mapping[TopicPartition, int] | None = None,
                      missing: Missing = "raise", fetch_ms: int = FETCH_MS,
                      **options: Any) -> AsyncGenerator[list[Record], None]:
    """Batches of the records of ``topics``, from each partition's first offset (or ``start``)
    to the end offsets taken when the read began; nothing for an empty topic.

    ``options`` go to the consumer (``isolation_level``, fetch sizes). Every broker call is
    bounded by ``timeout_s``, as is a stall.
    """
    tps = await topic_partitions(kafka, topics, timeout_s=timeout_s, missing=missing)
    if not tps:
        return
    async with opened(kafka, timeout_s, **options) as consumer:
        ends = await assign_at(consumer, tps, start=start, timeout_s=timeout_s)
        async with aclosing(drain(consumer, ends, timeout_s=timeout_s,
                                  fetch_ms=fetch_ms)) as batches:
            async for batch in batches:
                yield batch


async def follow(kafka: KafkaAccess, topics: Iterable[str], *, timeout_s: float = 15.0,
                 start: Mapping[TopicPartition, int] | None = None, from_beginning: bool = False,
                 stop: asyncio.Event | None = None, until_end: bool = False,
                 fetch_ms: int = 250, **options: Any) -> AsyncGenerator[list[Record], None]:
    """Batches of the records of ``topics`` as they come, from ``start`` (per partition), else
    the beginning (``from_beginning``) or the end as it is now, until ``stop`` is set or the
    caller stops iterating; with ``until_end``, only up to the end offsets taken at the start
    (then as ``read_to_end``, stalls included). A fetch that brings nothing yields nothing."""
    tps = await topic_partitions(kafka, topics, timeout_s=timeout_s)
    async with opened(kafka, timeout_s, **options) as consumer:
        ends = await assign_at(consumer, tps, start=start, at_end=not from_beginning,
                               timeout_s=timeout_s)
        if until_end:
            async with aclosing(drain(consumer, ends, timeout_s=timeout_s,
                                      fetch_ms=fetch_ms)) as batches:
                async for batch in batches:
                    yield batch
            return
        while stop is None or not stop.is_set():
            out = [r for _, records in await poll(consumer, fetch_ms) for r in records]
            if out:
                yield out
