"""The view consumer on two cores: a batch is verified while the batch before it is applied.

FastStream's handler (``take``) sends each polled batch to ``consumers.verify_pool``'s worker
and queues it; one applier task (``run``) takes the batches in order, waits for their verdicts
and applies them (``ViewSync.apply``: hold, fold, store, offsets, in one transaction), then
commits the stored offsets to Kafka for lag tools. The queue holds one batch, so FastStream
polls at most two batches ahead of the store: one queued, one in the worker.

Fetching ahead changes nothing the store decides. Batches are applied one at a time, in the
order they were polled, and each one's transaction checks its records against the stored
offsets as before. What fetching ahead adds:

- A batch polled before a seek of one of its partitions (a failed batch read again, a re-seek,
  a rebalance) leaves that partition's records out (``ViewSync.apply``'s ``epochs``); they come
  again from where the seek put the consumer. The seek counts are stamped where aiokafka hands
  the records over (``getmany``, wrapped): FastStream runs its dependency injection in a thread
  between the poll and the handler, and a seek can fall in between. A batch without a stamp
  (the consumer's first) is read again from its first offsets instead.
- Verdicts judged against an older registry than the one the batch is applied with are not
  used: the batch is verified again in-process (``ViewSync.apply``'s ``registry_version``).
- ``take`` never raises (FastStream would drop the batch in silence): whatever fails there, the
  batch is queued and verified in-process. A worker that fails, dies, hangs past
  ``VERDICT_TIMEOUT_S`` or whose verdicts are cancelled is replaced, and its batch verified
  in-process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from consumers.fetch_order import InStep
from consumers.sync import ViewSync
from consumers.verification import RawRecord, Verdict
from consumers.verify_pool import VerifyPool
from schemas.registry import Registry
from transport.memory import Trimmer

log = structlog.get_logger("consumers.pipeline")

RETRY_PAUSE_S = 1.0
VERDICT_TIMEOUT_S = 60.0
"""How long a batch waits for the worker's verdicts (a batch takes it well under a second)."""
STAMPS = 16
"""Seek-count stamps kept for polled batches not yet handed to ``take``."""
INLINE_MAX = 8
"""A batch of at most this many records, polled while the applier waits for work, is verified
in this process as it is applied: there is nothing to overlap with, and the worker's round trip
(pickling, two threads and a pipe each way) took longer than checking a few records (~0.1 ms
each), on the latency of every event of a quiet bus."""


class FollowedRegistry(Protocol):
    """The registry as ``consumers.registry_follower.RegistryFollower`` keeps it."""

    @property
    def registry(self) -> Registry: ...

    @property
    def version(self) -> int:
        """Changes whenever the registry may have."""
        ...

    async def refresh(self, *, force: bool = True) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Polled:
    records: Sequence[RawRecord]
    consumer: Any
    verdicts: asyncio.Future[list[Verdict]] | None
    """None: verified in this process as it is applied (``INLINE_MAX``)."""
    epochs: Mapping[tuple[str, int], int]
    version: int
    """The registry version the verdicts were judged against."""
    worker: int
    """The worker (``VerifyPool.generation``) the batch was sent to."""


def _first(records: Sequence[RawRecord]) -> tuple[int, str, int, int] | None:
    """What identifies a polled batch: its first record (object and place)."""
    if not records:
        return None
    r = records[0]
    return (id(r), r.topic, r.partition, r.offset)


def _failed(exc: BaseException) -> asyncio.Future[list[Verdict]]:
    future: asyncio.Future[list[Verdict]] = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    return future


class Pipeline:
    """Verify ahead in ``pool`` while ``sync`` applies; ``committed`` gets each batch's stored
    offsets once its transaction committed (the runner's commit to Kafka)."""

    def __init__(
        self, sync: ViewSync, pool: VerifyPool, follower: FollowedRegistry,
        committed: Callable[[Any, Mapping[tuple[str, int], int]], Awaitable[object]],
        verdict_timeout_s: float = VERDICT_TIMEOUT_S, *, in_step: bool = True,
    ) -> None:
        self._sync, self._pool, self._follower = sync, pool, follower
        self._in_step = in_step
        """Polls take the partitions in step by record time (``consumers.fetch_order``)."""
        self._step = InStep()
        self._committed = committed
        self._timeout_s = verdict_timeout_s
        self._queue: asyncio.Queue[_Polled] = asyncio.Queue(maxsize=1)
        self._stopping = False
        self._idle = False
        self._watched: Any = None
        self._stamps: dict[tuple[int, str, int, int], dict[tuple[str, int], int]] = {}
        self._trimmer = Trimmer()
        """Gives the memory a batch freed back to the system (``transport.memory``)."""

    def _epochs(self, partitions: Iterable[Any]) -> dict[tuple[str, int], int]:
        return {(tp.topic, tp.partition): self._sync.epoch(tp.topic, tp.partition)
                for tp in partitions}

    def _watch(self, consumer: Any) -> None:
        """Make ``consumer.getmany`` take the partitions in step (``consumers.fetch_order``)
        and stamp each batch it returns with its partitions' seek counts."""
        self._watched, original = consumer, consumer.getmany

        async def getmany(*partitions: Any, timeout_ms: int = 0,
                          max_records: int | None = None) -> Any:
            if partitions or not self._in_step:
                got = await original(*partitions, timeout_ms=timeout_ms, max_records=max_records)
                epochs = self._epochs(got)
            else:
                handed: list[tuple[Any, int, list[Any]]] = []

                async def counted(*parts: Any, **kwargs: Any) -> Any:
                    got = await original(*parts, **kwargs)
                    for tp, records in got.items():  # stamped as aiokafka hands them over
                        handed.append((tp, self._sync.epoch(tp.topic, tp.partition), records))
                    return got

                got = await self._step.take(
                    counted, consumer.assignment(), timeout_ms=timeout_ms,
                    max_records=max_records,
                    sought=lambda tp: self._sync.epoch(tp.topic, tp.partition))
                epochs = self._epochs(got)
                moved = {tp for tp, epoch, _ in handed
                         if tp in got and epoch != epochs[(tp.topic, tp.partition)]}
                if moved:
                    # sought between two calls: the records taken before the seek are left out
                    # (the seek placed the partition); those taken after it are read again
                    after = [r for tp, epoch, records in handed if tp in moved
                             and epoch == epochs[(tp.topic, tp.partition)] for r in records]
                    for tp in moved:
                        del got[tp]
                    log.info("batch_read_again", partitions=len(moved), records=len(after),
                             reason="sought while polled")
                    self._sync.reread(consumer, after)
                    epochs = self._epochs(got)
            key = _first([r for records in got.values() for r in records[:1]])
            if key is not None:  # FastStream chains the partitions' records in this order
                self._stamps[key] = epochs
                while len(self._stamps) > STAMPS:
                    del self._stamps[next(iter(self._stamps))]
            return got

        consumer.getmany = getmany

    async def take(self, records: Sequence[RawRecord], consumer: Any) -> None:
        """FastStream's handler: start verifying ``records`` and queue them (waits while the
        queue is full: the consumer polls no further ahead). Never raises."""
        if consumer is not self._watched:
            self._watch(consumer)
        key = _first(records)
        epochs = self._stamps.pop(key, None) if key is not None else None
        if epochs is None:  # polled before the stamps began: read it again
            log.info("batch_read_again", records=len(records), reason="not stamped")
            self._sync.reread(consumer, records)
            return
        try:
            await self._follower.refresh(force=False)
        except Exception as exc:  # noqa: BLE001 - the batch's own transaction refreshes again
            log.warning("registry_refresh_failed", error=repr(exc)[:300])
        version = self._follower.version
        verdicts: asyncio.Future[list[Verdict]] | None = None
        if len(records) > INLINE_MAX or not self._idle or not self._queue.empty():
            try:
                verdicts = self._pool.submit(records, self._follower.registry, version)
            except Exception as exc:  # noqa: BLE001 - verified in-process instead
                self._pool.lost(exc, self._pool.generation)
                verdicts = _failed(exc)
        await self._queue.put(_Polled(records, consumer, verdicts, epochs, version,
                                      self._pool.generation))

    async def run(self) -> None:
        """Apply the queued batches in order until ``stop``."""
        try:
            while not self._stopping:
                self._idle = True
                try:
                    polled = await self._queue.get()
                finally:
                    self._idle = False
                try:
                    await self._apply(polled)
                except Exception:
                    log.exception("batch_failed", records=len(polled.records))
                del polled  # its records and verdicts are free before the trim
                self._trimmer.maybe()
                if self._queue.empty():  # the end of a burst, perhaps: trim once it is over
                    self._trimmer.soon()
        finally:
            self._drop_queued()

    async def stop(self, applier: asyncio.Task[None], timeout_s: float = 60.0) -> None:
        """End ``run`` (its task ``applier``) once the batch it is applying is done; the queued
        batch is dropped. Call after the broker stopped taking batches."""
        self._stopping = True
        if self._idle:
            applier.cancel()
        done, _ = await asyncio.wait({applier}, timeout=timeout_s)
        if not done:
            applier.cancel()
        await asyncio.gather(applier, return_exceptions=True)

    async def _verdicts(self, polled: _Polled) -> list[Verdict] | None:
        """The worker's verdicts, or ``None`` (verify in-process) if it failed, hung or its
        answer was cancelled; the worker is then replaced. ``None`` too for a batch never sent
        to it (``INLINE_MAX``)."""
        if polled.verdicts is None:
            return None
        waited = time.perf_counter()
        try:
            verdicts = await asyncio.wait_for(asyncio.shield(polled.verdicts), self._timeout_s)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this applier is being stopped
            self._pool.lost(RuntimeError("the worker's verdicts were cancelled"), polled.worker)
            return None
        except TimeoutError:
            self._pool.lost(TimeoutError(f"no verdicts after {self._timeout_s:g} s"),
                            polled.worker)
            return None
        except Exception as exc:  # noqa: BLE001 - the worker died: verify in-process instead
            self._pool.lost(exc, polled.worker)
            return None
        log.debug("verdicts_waited", ms=round((time.perf_counter() - waited) * 1000, 1),
                  records=len(polled.records))
        return verdicts

    async def _apply(self, polled: _Polled) -> None:
        verdicts = await self._verdicts(polled)
        try:
            outcome = await self._sync.apply(polled.records, polled.consumer, verdicts,
                                             polled.epochs, registry_version=polled.version)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("batch_failed", records=len(polled.records))
            await asyncio.sleep(RETRY_PAUSE_S)
            return
        # after the store's transaction, never before: Kafka only mirrors what the store holds
        await self._committed(polled.consumer, outcome.committed)

    def _drop_queued(self) -> None:
        """Batches polled but not applied are dropped (read again from the stored offsets)."""
        while not self._queue.empty():
            verdicts = self._queue.get_nowait().verdicts
            if verdicts is None:
                continue
            if not verdicts.done():
                verdicts.cancel()
            elif not verdicts.cancelled():
                verdicts.exception()  # retrieved: asyncio does not log it as forgotten
