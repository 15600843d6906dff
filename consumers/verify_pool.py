"""Verification on the second core: a worker process checks a batch's raw records.

The view consumer's CPU goes mostly to two halves of equal weight: verifying records (parse,
schema, canonical JSON, Ed25519, authority: ~40% of its time, profiled in
docs/performance.md) and applying them (hold, fold, store). ``VerifyPool`` runs the first half
in a worker process, so that ``consumers.pipeline`` can verify one batch while the consumer
applies the batch before it.

The worker runs the same ``VerificationStage.check`` the consumer runs in-process, against a
copy of the participants registry: the consumer sends the registry along with a batch whenever
its follower has read something since the last one it sent. What the worker decides comes back
as the same ``Verdict`` objects (the envelopes pickled, not parsed again). A verdict that a
newer registry could change (an unknown key, a missing authority, time skew) is judged again by
the consumer after refreshing its registry (``VerificationStage.settle``), as in-process.

The worker is started with ``spawn`` (never ``fork``: the consumer runs threads and an event
loop), when the consumer starts, and ends by itself if the consumer is killed. If it dies, the
batch is verified in-process and a new worker is started for the next.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import structlog

from consumers.stored_record import StoredRecord
from consumers.verification import RawRecord, Verdict, VerificationStage
from schemas.registry import Registry
from schemas.timing import TimeBounds
from transport.memory import Trimmer

log = structlog.get_logger("consumers.verify_pool")

Row = tuple[str, int, int, bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...],
            int, int]
"""A record as sent to the worker (a ``StoredRecord``'s fields, as a tuple: cheaper to pickle):
topic, partition, offset, key, value, headers, timestamp, timestamp type."""


class _Fixed:
    """The worker's registry source: the copy last sent; refreshing is the consumer's job."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def refresh(self, *, force: bool = True) -> bool:  # noqa: ARG002 - the protocol's
        return False


@dataclass(frozen=True, slots=True)
class StageSpec:
    """What the worker needs to build the consumer's ``VerificationStage``."""

    trust_anchor: tuple[bytes, ...]
    topics: dict[str, str]
    partitions: dict[str, int]
    bounds: TimeBounds


_spec: StageSpec | None = None
_stage: VerificationStage | None = None
_trimmer = Trimmer()
"""The worker gives the memory a batch freed back to the system (``transport.memory``)."""


PARENT_CHECK_S = 1.0


def _exit_with(parent: int) -> None:
    """End the worker once its parent is gone (SIGKILLed, say): nothing else would, as it
    waits for work that never comes."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _start_worker(spec: StageSpec, setup: Callable[[], object] | None, parent: int) -> None:
    """``parent``: the consumer's pid, passed by it (a consumer killed while the worker was
    still starting would otherwise leave ``getppid()`` at 1, and the worker running for ever)."""
    global _spec  # noqa: PLW0603 - the worker process's one stage
    _spec = spec
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch",
                     daemon=True).start()
    if setup is not None:
        setup()
    else:
        # structlog's default writes to stdout, which may be a command's JSON (the worker
        # inherits it): logs go to stderr, as every process's of this project do
        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))


def _verify(registry: bytes | None, rows: Sequence[Row]) -> list[Verdict]:
    """In the worker: the verdict of each row, against the registry sent last."""
    global _stage  # noqa: PLW0603 - the worker process's one stage
    assert _spec is not None, "the worker was not started by VerifyPool"
    if registry is not None:
        copy: Registry = pickle.loads(registry)  # noqa: S301 - from the parent process
        _stage = VerificationStage(_Fixed(copy), _spec.trust_anchor, _spec.topics,
                                   _spec.partitions, _spec.bounds)
    assert _stage is not None, "no registry sent yet"
    verdicts = [_stage.check(StoredRecord(*row)) for row in rows]
    _trimmer.maybe()  # the records parsed for the batch before this one are free by now
    return verdicts


def _retrieved(verdicts: asyncio.Future[list[Verdict]]) -> None:
    """Mark a failure as seen: verdicts given up on (timed out, or their worker replaced) fail
    later with nobody awaiting them, and asyncio would log each as never retrieved."""
    if not verdicts.cancelled():
        verdicts.exception()


def row_of(record: RawRecord) -> Row:
    return (record.topic, record.partition, record.offset, record.key, record.value,
            tuple(record.headers), getattr(record, "timestamp", -1),
            getattr(record, "timestamp_type", -1))


class VerifyPool:
    """One worker process verifying batches in the order they are submitted."""

    def __init__(
        self, trust_anchor: Iterable[bytes], topics: Mapping[str, str],
        partitions: Mapping[str, int], bounds: TimeBounds,
        setup: Callable[[], object] | None = None,
    ) -> None:
        self._spec = StageSpec(tuple(trust_anchor), dict(topics), dict(partitions), bounds)
        self._setup = setup
        """Run first in the worker (the composition root passes its logging setup)."""
        self._executor: ProcessPoolExecutor | None = None
        self.generation = 0
        """Counts the workers started: a failure reported for an earlier one is not this one's."""
        self._sent: int | None = None
        """The registry version the worker holds (``None``: none, or not known)."""
        self._started: Future[int] | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self.generation += 1
            self._executor = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self._spec, self._setup, os.getpid()))
            # start the worker now, not at the first batch
            self._started = self._executor.submit(int)
            self._sent = None
        return self._executor

    def start(self) -> None:
        """Start the worker process (importing what it needs takes seconds) ahead of use;
        nothing if it runs."""
        self._pool()

    @property
    def ready(self) -> bool:
        """The worker has started (its imports take seconds): a batch sent now is verified
        at once, not after them."""
        return self._started is not None and self._started.done()

    def submit(self, records: Sequence[RawRecord], registry: Registry,
               version: int, *, restart: bool = True) -> asyncio.Future[list[Verdict]]:
        """Verify ``records`` in the worker against ``registry`` (sent only when ``version``
        differs from the one the worker has). A worker found dead is replaced and the batch
        sent to the new one (which first imports for seconds); without ``restart``, the error
        is raised instead, for a caller that would rather verify the batch itself."""
        rows = [row_of(r) for r in records]
        for attempt in (1, 2):
            pool = self._pool()
            blob = pickle.dumps(registry) if version != self._sent else None
            try:
                future = pool.submit(_verify, blob, rows)
            except (BrokenProcessPool, RuntimeError) as exc:  # died while idle
                if not restart:
                    raise
                self.lost(exc)
                if attempt == 2:  # noqa: PLR2004 - a fresh pool failed too
                    raise
                continue
            self._sent = version
            verdicts = asyncio.wrap_future(future)
            verdicts.add_done_callback(_retrieved)
            return verdicts
        raise AssertionError("unreachable")  # pragma: no cover

    def lost(self, exc: BaseException, generation: int | None = None) -> None:
        """The worker failed, died or hung: kill it; the next batch starts a new one (the
        registry sent again). ``generation``: the worker the failure came from; an earlier
        one's (a batch queued before it was replaced) leaves the current worker alone."""
        log.warning("verify_worker_failed", error=repr(exc)[:300], generation=generation)
        if generation is None or generation == self.generation:
            self.close(grace_s=0.0)

    def close(self, grace_s: float = 5.0) -> None:
        """Stop the worker: asked to end, killed if it has not within ``grace_s``."""
        executor, self._executor, self._sent = self._executor, None, None
        self._started = None
        if executor is None:
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace_s
        for process in processes:
            process.join(max(deadline - time.monotonic(), 0.0))
            if process.is_alive():
                process.kill()
                process.join(1.0)

