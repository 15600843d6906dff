"""Read a fixed snapshot of the log (offset zero to the end offsets taken at start), fast.

The audit never joins a consumer group: it assigns partitions itself, so it commits nothing,
disturbs no live consumer, and reads exactly the offsets it says it read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import structlog

from consumers.audit.merge import TimeMerge
from consumers.audit.records import AuditError, RawRecord
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaConnectionError, KafkaError, Record, TopicPartition
from transport.meta import connection_problem, partitions_of
from transport.read import (
    FETCH_MS,
    assign_from,
    begin_offsets,
    drain,
    end_offsets,
    group_less,
)

log = structlog.get_logger("consumers.audit.snapshot")

TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Per partition: the first offset still on the log and the end offset when the audit began."""

    start: dict[TP, int]
    end: dict[TP, int]

    def total(self, topics: Iterable[str] | None = None) -> int:
        wanted = None if topics is None else set(topics)
        return sum(
            self.end[tp] - self.start[tp] for tp in self.end if wanted is None or tp[0] in wanted
        )

    def partition_counts(self) -> dict[str, int]:
        """How many partitions each snapshotted topic has."""
        return {topic: len(parts) for topic, parts in self.by_topic().items()}

    def by_topic(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {}
        for (topic, partition), offset in sorted(self.end.items()):
            out.setdefault(topic, {})[partition] = offset
        return out


class LogReader:
    """A group-less consumer that snapshots topics and streams their records in batches."""

    def __init__(self, kafka: KafkaAccess, *, timeout_s: float = 15.0,
                 partition_fetch_bytes: int = 8 * 1024 * 1024) -> None:
        """``partition_fetch_bytes``: the most one fetch takes of one partition (aiokafka's
        ``max_partition_fetch_bytes``; a record larger than that still comes whole)."""
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._consumer = group_less(
            kafka, timeout_s,
            max_partition_fetch_bytes=partition_fetch_bytes,
            fetch_max_bytes=64 * 1024 * 1024,
            fetch_max_wait_ms=50,
        )

    async def __aenter__(self) -> LogReader:
        try:
            await asyncio.wait_for(self._consumer.start(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._consumer.stop()
            reason = None
            if isinstance(exc, KafkaConnectionError):
                reason = await connection_problem(self.kafka, self.timeout_s)
            raise AuditError(reason or f"cannot reach Kafka at {self.kafka.bootstrap}: {exc!r}"
                             ) from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:  # bounded: a reader that has what it needs must not hang on a broker's goodbye
            await asyncio.wait_for(self._consumer.stop(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("audit_reader_stop_failed", error=repr(error))

    async def _call(self, what: str, awaitable: Any, topics: Iterable[str] = ()) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            refused = refusal(exc, self.kafka, f"READ of {', '.join(topics) or 'the topics'}")
            raise AuditError(
                f"{what} failed on {self.kafka.bootstrap}: {refused or repr(exc)}") from exc

    async def snapshot(self, topics: Iterable[str]) -> Snapshot:
        """Every partition of ``topics`` with its start and current end offset."""
        tps: list[TopicPartition] = []
        for topic in topics:
            parts = await self._call(
                "reading metadata", partitions_of(self.kafka, topic, timeout_s=self.timeout_s),
                [topic],
            )
            if not parts:
                raise AuditError(f"topic {topic} does not exist: run `emining topics apply`")
            tps.extend(TopicPartition(topic, p) for p in parts)
        names = sorted({tp.topic for tp in tps})
        start = await self._call(
            "reading start offsets",
            begin_offsets(self._consumer, tps, timeout_s=self.timeout_s), names)
        end = await self._call(
            "reading end offsets",
            end_offsets(self._consumer, tps, timeout_s=self.timeout_s), names)
        return Snapshot(
            start={(tp.topic, tp.partition): start[tp] for tp in tps},
            end={(tp.topic, tp.partition): end[tp] for tp in tps},
        )

    async def offsets_at(self, snapshot: Snapshot, moment: datetime) -> dict[TP, int]:
        """Per partition, the first offset the broker appended at or after ``moment`` (else end).

        Uses the broker's time index, so a replay "as of" a moment need not read the tail.
        """
        millis = int(moment.timestamp() * 1000)
        query = {TopicPartition(t, p): millis for (t, p) in snapshot.end}
        found = await self._call(
            "looking up offsets by time", self._consumer.offsets_for_times(query)
        )
        out: dict[TP, int] = {}
        for tp, hit in found.items():
            key = (tp.topic, tp.partition)
            out[key] = snapshot.end[key] if hit is None else min(hit.offset, snapshot.end[key])
        return out

    async def read(
        self,
        snapshot: Snapshot,
        topics: Iterable[str],
        stop: dict[TP, int] | None = None,
    ) -> AsyncIterator[list[RawRecord]]:
        """Batches of the records of ``topics`` from the snapshot's start to ``stop`` (or end),
        as fetched: partition after partition."""
        wanted = set(topics)
        ends = self._assign(snapshot, wanted, stop)
        with self._reading(wanted):
            async with aclosing(drain(self._consumer, ends, timeout_s=self.timeout_s)) as read:
                async for batch in read:
                    yield [_raw(r) for r in batch]

    async def read_merged(
        self,
        snapshot: Snapshot,
        topics: Iterable[str],
        stop: dict[TP, int] | None = None,
    ) -> AsyncIterator[list[RawRecord]]:
        """The records of ``read``, the partitions merged by record timestamp (each in offset
        order, ``consumers.audit.merge``): the log in the order it was written. Only the
        partitions the merge waits for are fetched, so little more than one fetch per partition
        is ever queued."""
        wanted = set(topics)
        ends = self._assign(snapshot, wanted, stop)
        consumer = self._consumer
        merge: TimeMerge[TopicPartition, RawRecord] = TimeMerge(ends)
        loop = asyncio.get_running_loop()
        with self._reading(wanted):
            consumer.resume(*ends)
            try:
                for tp, end in ends.items():
                    if await consumer.position(tp) >= end:
                        merge.close(tp)
                        consumer.pause(tp)
                progressed = loop.time()
                while not merge.finished():
                    if needy := merge.needy():
                        if await self._fetch(merge, needy, ends):
                            progressed = loop.time()
                        elif loop.time() - progressed > self.timeout_s:
                            names = sorted(f"{tp.topic}[{tp.partition}]" for tp in needy)
                            raise TimeoutError(f"no records from {names} for {self.timeout_s:g}s")
                    if ready := merge.ready():
                        yield ready
                        progressed = loop.time()  # the caller's time is not the broker's
            finally:
                consumer.pause(*ends)

    async def _fetch(self, merge: TimeMerge[TopicPartition, RawRecord],
                     needy: list[TopicPartition], ends: dict[TopicPartition, int]) -> bool:
        """One fetch of the partitions the merge waits for; whether any of them advanced."""
        consumer = self._consumer
        fetched = await asyncio.wait_for(consumer.getmany(*needy, timeout_ms=FETCH_MS),
                                         self.timeout_s + FETCH_MS / 1000)
        for tp, records in fetched.items():
            merge.add(tp, (_raw(r) for r in records if r.offset < ends[tp]))
            if records and records[-1].offset >= ends[tp]:
                consumer.seek(tp, ends[tp])  # appended since the snapshot: not this read's
        closed = False
        for tp in needy:
            if await consumer.position(tp) >= ends[tp]:
                merge.close(tp)
                consumer.pause(tp)
                closed = True
        return bool(fetched) or closed

    def _assign(self, snapshot: Snapshot, wanted: set[str],
                stop: dict[TP, int] | None) -> dict[TopicPartition, int]:
        """Assign the partitions of ``wanted`` with something to read at the snapshot's start;
        their end offsets (``stop``, else the snapshot's end)."""
        limit = {tp: (stop or snapshot.end).get(tp, snapshot.end[tp]) for tp in snapshot.end}
        todo = {tp for tp in snapshot.end if tp[0] in wanted and limit[tp] > snapshot.start[tp]}
        assigned = [TopicPartition(t, p) for (t, p) in sorted(todo)]
        assign_from(self._consumer, {tp: snapshot.start[(tp.topic, tp.partition)]
                                     for tp in assigned})
        return {tp: limit[(tp.topic, tp.partition)] for tp in assigned}

    @contextmanager
    def _reading(self, wanted: set[str]) -> Iterator[None]:
        """The broker's errors while fetching, as ``AuditError``s that say what failed."""
        try:
            yield
        except (KafkaError, OSError) as exc:
            refused = refusal(exc, self.kafka, f"READ of {', '.join(sorted(wanted))}")
            raise AuditError(f"fetching records failed on {self.kafka.bootstrap}:"
                             f" {refused or repr(exc)}") from exc
        except TimeoutError as exc:
            raise AuditError(str(exc) or f"fetching records timed out on"
                             f" {self.kafka.bootstrap}") from exc


def _raw(r: Record) -> RawRecord:
    return RawRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value,
                     tuple(r.headers), r.timestamp_type)
