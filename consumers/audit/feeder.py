"""How ``audit replay`` hands the log to ``ViewSync``: store-sized batches, verified on the
second core while the batch before is applied.

With a ``VerifyPool``, as the live consumer does (``consumers.pipeline``): each batch is sent
to the worker as it fills, and applied with its verdicts once the batch before it is applied,
so that the worker verifies one batch while this process applies the other. Whatever goes
wrong with the worker costs time, never the result: a batch that comes while the worker is
still starting, or that the worker cannot take, or whose verdicts fail (it died, hung, or they
were cancelled), is verified in this process, which ``ViewSync.apply`` does when it is given no
verdicts. A failed worker is replaced; after ``WORKER_FAILURES`` failures the replay verifies
the rest itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple

import structlog

from consumers.audit.records import RawRecord
from consumers.pipeline import VERDICT_TIMEOUT_S
from consumers.sync import PartitionControl, ViewSync
from consumers.verification import Verdict
from consumers.verify_pool import VerifyPool
from schemas.registry import Registry

log = structlog.get_logger("consumers.audit.feeder")

BATCH = 1000
"""Records per store transaction: fewer, larger transactions than the live consumer's 500."""

REGISTRY_VERSION = 0
"""A replay's registry never changes (the cut's): the worker is sent it once."""

WORKER_FAILURES = 3
"""After this many failures of its worker (each replaced), a replay verifies the rest of the
log in its own process: a worker that cannot start would otherwise be started for ever."""


class Sent(NamedTuple):
    """A batch's verdicts to come, and the worker (``VerifyPool.generation``) computing them."""

    verdicts: asyncio.Future[list[Verdict]]
    worker: int


class Feeder:
    """Hands the kept records to ``ViewSync`` in ``BATCH``-sized batches, in log order."""

    def __init__(self, sync: ViewSync, control: PartitionControl,
                 start: Mapping[tuple[str, int], int],
                 verifier: tuple[VerifyPool, Registry] | None = None) -> None:
        self.sync, self.control = sync, control
        self.next_offset = dict(start)
        self.pending: list[RawRecord] = []
        self.verifier = verifier
        self.waiting: tuple[list[RawRecord], Sent | None] | None = None
        """The batch sent to the worker and not applied yet."""
        self.applied = 0
        self.rejected = 0
        self.failures = 0
        """How many workers failed (each replaced), or could not be started."""
        self._failed_workers: set[int] = set()

    async def add(self, records: list[RawRecord]) -> None:
        self.pending += records
        while len(self.pending) >= BATCH:
            chunk, self.pending = self.pending[:BATCH], self.pending[BATCH:]
            await self._take(chunk)

    async def flush(self) -> None:
        if self.pending:
            chunk, self.pending = self.pending, []
            await self._take(chunk)
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            await self._apply(*waiting)

    async def _take(self, chunk: list[RawRecord]) -> None:
        sent = self._send(chunk)
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            await self._apply(*waiting)
        self.waiting = (chunk, sent)

    def _send(self, chunk: list[RawRecord]) -> Sent | None:
        """The chunk sent to the worker; ``None`` (this process verifies it) while the worker
        is starting, or if it cannot be started or take the chunk."""
        if self.verifier is None:
            return None
        pool, registry = self.verifier
        try:
            pool.start()  # a new worker if the last one was lost
        except Exception as exc:  # noqa: BLE001 - no worker (no descriptors, no memory): verify here
            self._failed(exc, None)
            return None
        if not pool.ready:
            return None
        worker = pool.generation
        try:
            return Sent(pool.submit(chunk, registry, REGISTRY_VERSION, restart=False), worker)
        except Exception as exc:  # noqa: BLE001 - died while idle, refused: verify here
            self._failed(exc, worker)
            return None

    def _failed(self, exc: BaseException, worker: int | None) -> None:
        """``worker`` (``None``: none could be started) failed: replaced for the next batch,
        unless it is the ``WORKER_FAILURES``-th; a worker's other batches failing with it
        count once."""
        if self.verifier is None:
            return
        pool = self.verifier[0]
        pool.lost(exc, worker)
        if worker is not None:
            if worker in self._failed_workers:
                return
            self._failed_workers.add(worker)
        self.failures += 1
        if self.failures >= WORKER_FAILURES:
            log.warning("replay_verifies_in_process", failures=self.failures,
                        error=repr(exc)[:300])
            pool.close(grace_s=0.0)
            self.verifier = None

    async def _verdicts(self, sent: Sent | None) -> list[Verdict] | None:
        """The worker's verdicts, or ``None``: verify in this process."""
        if sent is None or self.verifier is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(sent.verdicts), VERDICT_TIMEOUT_S)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the replay itself is being cancelled
            self._failed(RuntimeError("the worker's verdicts were cancelled"), sent.worker)
            return None
        except TimeoutError:
            self._failed(TimeoutError(f"no verdicts after {VERDICT_TIMEOUT_S:g} s"), sent.worker)
            return None
        except Exception as exc:  # noqa: BLE001 - the worker died or refused: verify here
            self._failed(exc, sent.worker)
            return None

    async def _apply(self, chunk: list[RawRecord], sent: Sent | None) -> None:
        verdicts = await self._verdicts(sent)
        for tp in {(r.topic, r.partition) for r in chunk}:
            # records left out (another subject, a later time) are no hole in the log
            self.sync.positioned(*tp, self.next_offset[tp])
        outcome = await self.sync.apply(chunk, self.control, verdicts)
        self.applied += outcome.applied
        self.rejected += outcome.rejected
        for r in chunk:
            self.next_offset[(r.topic, r.partition)] = r.offset + 1
