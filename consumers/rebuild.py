"""Rebuild: replay the shared topics from offset zero into a fresh generation, then swap it in.

The live views keep serving (and a running consumer keeps applying) while the rebuild replays
into the store's other generation with the same verification and fold. The swap is one
transaction; a running consumer then continues from the rebuilt generation's offsets, which the
offset check of ``consumers.sync`` makes safe whichever of the two is ahead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_incrementing,
)

from consumers.config import ViewsConfig
from consumers.digest import Digest, digest
from consumers.dlq import DeadLetterQueue
from consumers.registry_follower import RegistryFollower
from consumers.store import ViewStore
from consumers.store_schema import other
from consumers.sync import BatchOutcome, ViewSync
from consumers.verification import VerificationStage
from schemas.errors import EminingError
from transport.kafka import Consumer, TopicPartition
from transport.meta import partition_counts, partitions_of
from transport.read import assign_from_beginning, behind, end_offsets, fetch_some, opened
from transport.sender import RecordSender

log = structlog.get_logger("consumers.rebuild")

Progress = Callable[[int, int], None]
"""``progress(records_done, records_total)``."""
MAX_ATTEMPTS = 5


class RebuildError(EminingError):
    """The rebuild could not finish; the live views were left as they were."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    generation: str
    records: int
    applied: int
    rejected: int
    seconds: float
    digest: Digest

    def as_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "records": self.records, "applied": self.applied,
                "rejected": self.rejected, "seconds": round(self.seconds, 3),
                "digest": self.digest.as_dict()}


async def rebuild(
    config: ViewsConfig, *, publish_dlq: bool = False, progress: Progress | None = None,
) -> RebuildResult:
    """Replay every record up to the current end offsets into a fresh generation and swap it in.

    Dead letters are logged and counted; with ``publish_dlq`` they also go to the DLQ (the live
    consumer has normally sent them already: their ``dlq_id`` shows the repeats).
    """
    started = time.perf_counter()
    store = ViewStore(config.store_url, inline=True)
    try:
        target = other(await store.open(check_version=False))
        await store.reset_generation(target)
        async with RegistryFollower(config.kafka, config.trust_anchor,
                                    topic=config.topics.participants,
                                    timeout_s=config.timeout_s) as follower:
            sender = RecordSender(config.kafka, timeout_s=config.timeout_s)
            if publish_dlq:
                await sender.start()
            try:
                partitions = await partition_counts(
                    config.kafka, list(config.topics.consumed()), timeout_s=config.timeout_s)
                stage = VerificationStage(follower, config.trust_anchor,
                                          config.topics.consumed(), partitions,
                                          config.time_bounds)
                dlq = DeadLetterQueue(sender if publish_dlq else None, config.topics.dlq,
                                      f"{config.consumer_name}-rebuild")
                sync = ViewSync(store, stage, dlq, registry=follower, generation=target)
                counts = await _replay(config, sync, progress)
            finally:
                await sender.stop()
        await store.swap(target)
        result = RebuildResult(target, *counts, time.perf_counter() - started, await digest(store))
    finally:
        await store.close()
    log.info("views_rebuilt", **result.as_dict())
    return result


class _ApplyFailedError(Exception):
    """``sync.apply`` failed on a batch (its cause): the one failure a rebuild tries again."""


def _batch_failed(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("rebuild_batch_failed", error=repr(error and error.__cause__)[:300],
                attempt=state.attempt_number)


async def _next_batch(consumer: Consumer, sync: ViewSync, batch_size: int,
                      pending: Callable[[], Awaitable[bool]],
                      sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, *,
                      timeout_s: float) -> BatchOutcome | None:
    """Fetch and apply the next batch; None when nothing is ``pending`` any more. A batch that
    fails to apply (``sync.apply`` seeks back to its start) is fetched and applied again after
    1, 2, 3… s, ``MAX_ATTEMPTS`` tries in all; an error of the fetch itself is not retried,
    nor is a stall (no records and no position moved for ``timeout_s``: the broker gone),
    which raises ``RebuildError`` saying so."""

    async def attempt() -> BatchOutcome | None:
        records = await fetch_some(consumer, pending, timeout_s=timeout_s,
                                   max_records=batch_size, fetch_ms=500)
        if records is None:
            return None
        try:
            return await sync.apply(records, consumer)
        except Exception as exc:
            raise _ApplyFailedError from exc

    retrying = AsyncRetrying(
        stop=stop_after_attempt(MAX_ATTEMPTS), wait=wait_incrementing(start=1, increment=1, max=5),
        retry=retry_if_exception_type(_ApplyFailedError), after=_batch_failed, sleep=sleep,
        reraise=True)
    try:
        outcome: BatchOutcome | None = await retrying(attempt)
    except _ApplyFailedError as exc:
        raise RebuildError(f"a batch failed {MAX_ATTEMPTS} times: {exc.__cause__!r}") \
            from exc.__cause__
    except TimeoutError as exc:
        raise RebuildError(f"the replay stalled: {exc or 'the broker did not answer'}"
                           f" (bound {timeout_s:g}s): is the broker up?") from exc
    return outcome


async def _replay(
    config: ViewsConfig, sync: ViewSync, progress: Progress | None,
) -> tuple[int, int, int]:
    async with opened(config.kafka, config.timeout_s,
                      isolation_level="read_committed") as consumer:
        tps = [TopicPartition(topic, p) for topic in config.topics.consumed()
               for p in await partitions_of(config.kafka, topic, timeout_s=config.timeout_s)]
        if not tps:
            raise RebuildError("none of the shared topics exists: run `emining topics apply`")
        await assign_from_beginning(consumer, tps)
        for tp in tps:
            sync.positioned(tp.topic, tp.partition, 0)
        end = await end_offsets(consumer, tps, timeout_s=config.timeout_s)
        total = sum(end.values())
        done = applied = rejected = 0

        async def pending() -> bool:
            return await behind(consumer, end)

        while (outcome := await _next_batch(consumer, sync, config.batch_size, pending,
                                            timeout_s=config.timeout_s)) is not None:
            done += outcome.applied + outcome.rejected
            applied, rejected = applied + outcome.applied, rejected + outcome.rejected
            if progress is not None:
                progress(done, total)
        return done, applied, rejected
