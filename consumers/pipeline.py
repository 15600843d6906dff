"""The view consumer on two cores: a batch is verified while the batch before it is applied.

FastStream's handler (``take``) sends each polled batch to ``consumers.verify_pool``'s worker
and queues it; one applier task (``run``) takes the batches in order, waits for their verdicts
and applies them (``ViewSync.apply``: hold, fold, store, offsets, in one transaction), then
commits the stored offsets to Kafka for lag tools. The queue holds one batch, so FastStream
polls at most two batches ahead of the store: one queued, one in the worker.

Fetching ahead changes nothing the store decides. Batches are applied one at a time, in the
order they were polled, and each one's transaction checks its records against the stored
offsets as before. What fetching ahead adds is a batch polled before a seek of one of its
partitions (a failed batch read again, a re-seek, a rebalance): its records of that partition
are left out (``ViewSync.apply``'s ``epochs``), and they come again from where the seek put
the consumer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from consumers.sync import ViewSync
from consumers.verification import RawRecord, Verdict
from consumers.verify_pool import VerifyPool
from schemas.registry import Registry

log = structlog.get_logger("consumers.pipeline")

RETRY_PAUSE_S = 1.0


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
    verdicts: asyncio.Future[list[Verdict]]
    epochs: Mapping[tuple[str, int], int]


class Pipeline:
    """Verify ahead in ``pool`` while ``sync`` applies; ``committed`` gets each batch's stored
    offsets once its transaction committed (the runner's commit to Kafka)."""

    def __init__(
        self, sync: ViewSync, pool: VerifyPool, follower: FollowedRegistry,
        committed: Callable[[Any, Mapping[tuple[str, int], int]], Awaitable[object]],
    ) -> None:
        self._sync, self._pool, self._follower = sync, pool, follower
        self._committed = committed
        self._queue: asyncio.Queue[_Polled] = asyncio.Queue(maxsize=1)
        self._stopping = False
        self._idle = False

    async def take(self, records: Sequence[RawRecord], consumer: Any) -> None:
        """FastStream's handler: start verifying ``records`` and queue them (waits while the
        queue is full: the consumer polls no further ahead)."""
        epochs = self._sync.epochs(records)  # before any await: as of the poll
        await self._follower.refresh(force=False)
        verdicts = self._pool.submit(records, self._follower.registry, self._follower.version)
        await self._queue.put(_Polled(records, consumer, verdicts, epochs))

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

    async def _apply(self, polled: _Polled) -> None:
        waited = time.perf_counter()
        try:
            verdicts: list[Verdict] | None = await polled.verdicts
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the worker died: verify in-process instead
            self._pool.lost(exc)
            verdicts = None
        log.debug("verdicts_waited", ms=round((time.perf_counter() - waited) * 1000, 1),
                  records=len(polled.records))
        try:
            outcome = await self._sync.apply(polled.records, polled.consumer, verdicts,
                                             polled.epochs)
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
            if not verdicts.done():
                verdicts.cancel()
            elif not verdicts.cancelled():
                verdicts.exception()  # retrieved: asyncio does not log it as forgotten
