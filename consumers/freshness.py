"""How fresh the views are: per partition, the last offset applied, the log's end, and the lag."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import structlog
from pydantic import BaseModel

from transport.access import KafkaAccess
from transport.kafka import KafkaError, TopicPartition
from transport.meta import partitions_of
from transport.read import end_offsets, group_less

log = structlog.get_logger("consumers.freshness")

T = TypeVar("T")
TopicPartitionKey = tuple[str, int]
PARTITIONS_TTL_S = 60.0
"""Partition counts change rarely (only by ``emining topics apply``): looked up once a minute."""


class PartitionFreshness(BaseModel):
    applied_offset: int | None
    """Offset of the last record applied (or judged and dead-lettered); ``None``: none yet."""
    end_offset: int | None
    """The partition's log end offset; ``None`` when the broker could not be asked."""
    lag: int | None
    """Records in the log not yet applied."""


FreshnessReport = dict[str, dict[str, PartitionFreshness]]
"""``{topic: {partition: {applied_offset, end_offset, lag}}}``."""


class FreshReads(Generic[T]):
    """Answers with a read that began after the call, concurrent callers sharing reads.

    A caller that finds a read in flight (begun before it asked, so not fresh enough for it)
    waits for it, then shares the next one: however many ask at once, ``read`` runs at most
    twice for them while the reads succeed. A read that fails raises its error to its own
    caller only; the callers waiting then read again, one after another."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._lock = asyncio.Lock()
        self._begun = 0
        """Reads begun so far."""
        self._last: tuple[int, T] | None = None
        """The last read that succeeded: its number and answer."""

    async def get(self) -> T:
        begun_before = self._begun
        async with self._lock:
            if self._last is not None and self._last[0] > begun_before:
                return self._last[1]  # read after this call began: fresh enough for it
            self._begun += 1
            number = self._begun
            value = await self._read()
            self._last = (number, value)
            return value


class Freshness:
    """Asks the broker for end offsets (cached ``ttl_s``) and sets them beside the stored ones.

    Covers ``topics`` and every topic the store holds offsets for. With ``ttl_s=0`` every answer
    is *fresh*: read from the broker after the call began, so it counts every record the broker
    had acknowledged by then; concurrent callers share those reads (``FreshReads``).
    """

    def __init__(
        self, kafka: KafkaAccess | None, topics: Iterable[str], *, timeout_s: float = 3.0,
        ttl_s: float = 1.0,
    ) -> None:
        self._kafka, self._topics = kafka, tuple(topics)
        self._timeout_s, self._ttl_s = timeout_s, ttl_s
        self._consumer: Any = None
        self._partitions: dict[str, tuple[float, list[int]]] = {}
        self._cache: tuple[float, frozenset[str], dict[TopicPartitionKey, int]] | None = None
        self._lock = asyncio.Lock()
        self._fresh_reads: dict[frozenset[str], FreshReads[dict[TopicPartitionKey, int]]] = {}
        """``ttl_s=0``: the shared fresh reads, per set of topics."""

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def end_offsets(self, extra: Iterable[str] = ()) -> dict[TopicPartitionKey, int] | None:
        topics = frozenset(self._topics) | frozenset(extra)
        if self._ttl_s <= 0:
            return await self._fresh(topics)
        async with self._lock:
            if (self._cache and self._cache[1] == topics
                    and time.monotonic() - self._cache[0] < self._ttl_s):
                return self._cache[2]
            try:
                ends = await asyncio.wait_for(self._fetch(topics), self._timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("end_offsets_unavailable", error=repr(exc)[:200])
                await self.close()
                return None
            self._cache = (time.monotonic(), topics, ends)
            return ends

    async def _fresh(self, topics: frozenset[str]) -> dict[TopicPartitionKey, int] | None:
        reads = self._fresh_reads.get(topics)
        if reads is None:
            async def read() -> dict[TopicPartitionKey, int]:
                async with self._lock:  # one consumer, one request at a time
                    return await asyncio.wait_for(self._fetch(topics), self._timeout_s)

            reads = self._fresh_reads[topics] = FreshReads(read)
        try:
            return await reads.get()
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("end_offsets_unavailable", error=repr(exc)[:200])
            await self.close()
            return None

    async def _partitions_of(self, topic: str) -> list[int]:
        now = time.monotonic()
        known = self._partitions.get(topic)
        if known is None or now - known[0] > PARTITIONS_TTL_S:
            assert self._kafka is not None
            known = (now, await partitions_of(self._kafka, topic, timeout_s=self._timeout_s))
            self._partitions[topic] = known
        return known[1]

    async def _fetch(self, topics: frozenset[str]) -> dict[TopicPartitionKey, int]:
        if self._kafka is None:
            raise OSError("no broker configured")
        if self._consumer is None:
            consumer = group_less(self._kafka, self._timeout_s)
            await consumer.start()
            self._consumer = consumer
        tps = [TopicPartition(t, p) for t in sorted(topics) for p in await self._partitions_of(t)]
        ends = await end_offsets(self._consumer, tps, timeout_s=self._timeout_s)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def report(self, stored: dict[TopicPartitionKey, int]) -> FreshnessReport:
        """Freshness of every known partition, given the store's next offsets."""
        ends = await self.end_offsets({topic for topic, _ in stored})
        return report(stored, ends)


def report(
    stored: dict[TopicPartitionKey, int], ends: dict[TopicPartitionKey, int] | None
) -> FreshnessReport:
    """The freshness of each partition. Sets no metric: the lag gauge is the view consumer's
    (``consumers.runner``), measured where the records are applied."""
    result: FreshnessReport = {}
    for key in sorted(set(stored) | set(ends or {})):
        next_offset = stored.get(key, 0)
        end = ends.get(key) if ends is not None else None
        lag = None if end is None else max(end - next_offset, 0)
        result.setdefault(key[0], {})[str(key[1])] = PartitionFreshness(
            applied_offset=next_offset - 1 if next_offset > 0 else None, end_offset=end, lag=lag,
        )
    return result
