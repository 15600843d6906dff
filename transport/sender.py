"""One idempotent Kafka producer that sends records in order, all in flight, within a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder

from schemas.envelope import MAX_VALUE_BYTES, KafkaRecord
from transport.access import KafkaAccess, refusal
from transport.errors import BrokerUnavailableError, PublishError
from transport.meta import connection_problem

log = structlog.get_logger("transport.sender")


@dataclass(frozen=True, slots=True)
class Ack:
    topic: str
    partition: int
    offset: int


def producer_config(kafka: KafkaAccess, timeout_s: float, **extra: Any) -> dict[str, Any]:
    """Settings every producer of the bus uses: idempotent, acks=all, bounded waits."""
    return {
        **kafka.aiokafka(),
        "enable_idempotence": True,  # implies acks="all"
        "acks": "all",
        "request_timeout_ms": int(timeout_s * 1000),
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": 4 * MAX_VALUE_BYTES,
        **extra,
    }


class RecordSender:
    """Owns an ``AIOKafkaProducer``; shared by every publisher of a process."""

    def __init__(
        self,
        kafka: KafkaAccess,
        *,
        timeout_s: float = 15.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._config = producer_config(kafka, timeout_s, **(producer_options or {}))
        self._producer: AIOKafkaProducer | None = None
        self._lost = False
        """A send ended without an acknowledgement for some record: stop need not flush."""
        self._open = False
        """Between ``start`` and ``stop`` (the producer itself may be being renewed)."""
        self._stale = False
        """A send lost records: the next send first starts a new producer session."""
        self._inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._renewing = asyncio.Lock()

    async def __aenter__(self) -> RecordSender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._open

    async def start(self) -> None:
        await self._start_producer()
        self._open = True

    async def _start_producer(self) -> None:
        producer = AIOKafkaProducer(**self._config)
        try:
            await asyncio.wait_for(producer.start(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            if isinstance(exc, KafkaConnectionError) and (
                reason := await connection_problem(self.kafka, self.timeout_s)
            ):
                raise BrokerUnavailableError(f"{reason}; nothing was published") from exc
            if (reason := refusal(exc, self.kafka, "WRITE (an idempotent producer needs WRITE"
                                  " on at least one topic)")) is not None:
                raise BrokerUnavailableError(f"{reason}; nothing was published") from exc
            raise BrokerUnavailableError(
                f"broker {self.kafka.bootstrap} unreachable within {self.timeout_s:g}s "
                f"({type(exc).__name__}: {exc}); nothing was published"
            ) from exc
        self._producer = producer
        self._lost = False

    async def stop(self) -> None:
        """Flush and close within ``timeout_s`` (at once after a send that lost records),
        whether or not the broker answers.

        An idempotent aiokafka producer never expires a batch, so its own ``stop()`` would
        wait for a dead broker forever. Every ``send`` has already waited for its records (what
        it got no acknowledgement for it reported as such), so what is still queued then is
        given up: its batches are failed, which ends the flush, and the connections close.
        """
        self._open = False
        await self._stop_producer()

    async def _stop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        stopping = asyncio.ensure_future(producer.stop())
        # After a send that lost records the broker is likely gone: no flush to wait for.
        wait = 0.0 if self._lost else self.timeout_s
        done, _ = await asyncio.wait({stopping}, timeout=wait) if wait else (set(), set())
        if done:
            with contextlib.suppress(KafkaError):  # a failed flush: send already said so
                stopping.result()
            return
        # aiokafka offers no bounded stop (private API): end its sender task, which lets stop()
        # go on to close the connections; the batches it was retrying are abandoned.
        sender_task = producer._sender.sender_task  # noqa: SLF001
        if sender_task is not None:
            sender_task.cancel()
        done, _ = await asyncio.wait({stopping}, timeout=min(1.0, self.timeout_s))
        if not done:
            stopping.cancel()
        # Whatever the abandoned stop raises is moot: every record it held was already
        # reported unacknowledged by ``send``.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await stopping
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(producer.client.close(), 1.0)

    def found_on_log(self, records: Sequence[KafkaRecord], acks: Sequence[Ack]) -> None:
        """Told of records an earlier session sent whose acknowledgement was lost, found on the
        log by id (so not sent again): where they are. Nothing to do here; observers override."""

    async def send(self, records: Sequence[KafkaRecord],
                   results: list[Ack | str | None] | None = None) -> list[Ack | str]:
        """Send ``records`` in order, all in flight; each result is an ``Ack`` or why it failed.

        Records are enqueued strictly in order (a subject's events keep their order in its
        partition); after the first that cannot be enqueued, the rest are not sent at all.
        ``results`` (one ``None`` per record), if given, is filled in even when the call is
        cancelled: what was acknowledged before the cancellation is not lost. The publisher
        passes it, so a subclass overriding ``send`` must take it and pass it on.
        """
        if not self._open:
            raise PublishError("sender is not started")
        if self._stale:
            await self._renew()
        if self._producer is None:
            raise BrokerUnavailableError(
                f"broker {self.kafka.bootstrap}: no producer session (the last attempt to start"
                " one failed); nothing was published")
        self._inflight += 1
        self._idle.clear()
        try:
            return await self._send(records, results)
        finally:
            self._inflight -= 1
            if self._inflight == 0:
                self._idle.set()
                if self._stale:
                    await self._retire()

    async def quiet(self) -> None:
        """Once this returns, no producer session that lost records can send any more.

        A stale session is stopped once the sends in flight on it are done (bounded), and a new
        one started (``BrokerUnavailableError`` if it cannot be). Whoever looks records up on
        the log to decide whether to send them again does this first: a shared sender whose
        other sends kept the old session open would otherwise still be retrying them, and land
        one after the look-up missed it.
        """
        if self._open and self._stale:
            await self._renew()

    async def _retire(self) -> None:
        """Stop a producer that lost records at once, before the caller looks its records up
        on the log: left running, it would go on retrying them and could land one after the
        lookup found it missing (and it was sent again)."""
        async with self._renewing:
            if self._stale and self._inflight == 0 and self._producer is not None:
                await self._stop_producer()
                log.info("producer_session_retired", bootstrap=self.kafka.bootstrap)

    async def _renew(self) -> None:
        """A new producer session (a new producer id) once the sends in flight are done.

        After a send lost records, the old session's sequence numbers for a partition can be
        ahead of what the broker holds (a batch given up on, a broker that restarted): aiokafka
        never resets them, and the broker then refuses every later record there with
        ``OutOfOrderSequenceNumber``, for good. What the old session left in doubt, the
        publisher looks up on the log before it is re-sent.
        """
        async with self._renewing:
            if not self._stale:
                return  # another send renewed it while this one waited
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.timeout_s)
            await self._stop_producer()  # retired already unless sends were in flight
            await self._start_producer()  # raises BrokerUnavailableError: stays stale
            self._stale = False
            log.info("producer_session_renewed", bootstrap=self.kafka.bootstrap)

    async def _send(self, records: Sequence[KafkaRecord],
                    results: list[Ack | str | None] | None) -> list[Ack | str]:
        assert self._producer is not None  # checked by send
        out: list[Ack | str | None] = [None] * len(records) if results is None else results
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        slots: list[_Slot | None] = [None] * len(records)
        futures: list[asyncio.Future[Any]] = []
        enqueue_error = "not sent"
        try:
            try:
                # One deadline for the whole loop: a timer per send would cost ~30 µs each.
                async with asyncio.timeout_at(deadline):
                    await self._enqueue(self._producer, records, slots, futures)
            except (KafkaError, TimeoutError) as exc:
                first = next((i for i, slot in enumerate(slots) if slot is None), 0)
                refused = refusal(exc, self.kafka, f"WRITE to {records[first].topic}")
                enqueue_error = f"not sent ({refused or f'{type(exc).__name__}: {exc}'})"
            if futures:
                await asyncio.wait(futures, timeout=max(deadline - loop.time(), 0))
        finally:
            self._settle(records, slots, futures, enqueue_error, out)
            lost = not all(isinstance(r, Ack) for r in out)
            self._lost = self._lost or lost
            self._stale = self._stale or lost
        return [r if r is not None else "not sent" for r in out]

    @staticmethod
    async def _enqueue(producer: AIOKafkaProducer, records: Sequence[KafkaRecord],
                       slots: list[_Slot | None], futures: list[asyncio.Future[Any]]) -> None:
        """Hand ``records`` to the producer in record batches, one open batch per partition.

        Each record goes to the partition ``send`` would give it (the producer's partitioner,
        once per key and call), into that partition's open batch, in order; a full batch is
        handed over at once and the rest at the end. A subject's records keep their order in
        its partition; the records, their bytes and the producer's settings are those of
        ``send``, without a future and an accumulator round per record (a third of aiokafka's
        cost per record). ``slots[i]`` is record ``i``'s batch once handed over; a failure
        leaves the records of every batch not yet handed over unsent.

        The last batch of each partition is closed before it is handed over: nothing more will
        join it, and aiokafka holds an open batch for ``linger_ms`` (5 ms) in case something
        does, which every call paid once on an idle producer (an event's publish, then its
        alert's). Under load the batches still form: one request per broker is in flight, and
        what is handed over meanwhile waits for it.
        """
        for topic in dict.fromkeys(r.topic for r in records):
            await producer.partitions_for(topic)  # metadata first: a refusal is raised here
        partition_of: dict[tuple[str, bytes], int] = {}
        open_batches: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}

        async def hand_over(topic: str, partition: int, batch: BatchBuilder,
                            members: list[int]) -> None:
            future = await producer.send_batch(batch, topic, partition=partition)
            futures.append(future)
            for position, index in enumerate(members):
                slots[index] = _Slot(future, position)

        for index, rec in enumerate(records):
            key = (rec.topic, rec.key)
            partition = partition_of.get(key)
            if partition is None:
                partition = partition_of[key] = producer._partition(  # noqa: SLF001 - send's
                    rec.topic, None, rec.key, rec.value, rec.key, rec.value)
            place = (rec.topic, partition)
            entry = open_batches.get(place)
            if entry is None:
                entry = open_batches[place] = (producer.create_batch(), [])
            if entry[0].append(timestamp=None, key=rec.key, value=rec.value,
                               headers=rec.headers) is None:  # full: hand it over, start anew
                await hand_over(rec.topic, partition, *entry)
                entry = open_batches[place] = (producer.create_batch(), [])
                if entry[0].append(timestamp=None, key=rec.key, value=rec.value,
                                   headers=rec.headers) is None:
                    raise MessageSizeTooLargeError(
                        f"a record of {len(rec.value)} bytes does not fit in a batch")
            entry[1].append(index)
        for (topic, partition), (batch, members) in open_batches.items():
            batch.close()  # complete: sent without lingering
            await hand_over(topic, partition, batch, members)

    def _settle(self, records: Sequence[KafkaRecord], slots: list[_Slot | None],
                futures: list[asyncio.Future[Any]], enqueue_error: str,
                out: list[Ack | str | None]) -> None:
        # Each batch judged once, before any is cancelled: its records share the verdict.
        verdict: dict[asyncio.Future[Any], Any] = {}
        for fut in futures:
            if not fut.done():
                fut.cancel()
                verdict[fut] = f"no acknowledgement within {self.timeout_s:g}s"
            elif fut.cancelled():
                verdict[fut] = "cancelled before an acknowledgement"
            else:
                verdict[fut] = fut.exception() or fut.result()
        for index, slot in enumerate(slots):
            if slot is None:
                out[index] = enqueue_error
                continue
            said = verdict[slot.future]
            if isinstance(said, str):
                out[index] = said
            elif isinstance(said, BaseException):
                topic = records[index].topic
                out[index] = refusal(said, self.kafka, f"WRITE to {topic}") or repr(said)
            else:
                out[index] = Ack(said.topic, said.partition, said.offset + slot.position)


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where a record went: its batch's future, its place in that batch."""

    future: asyncio.Future[Any]
    position: int
