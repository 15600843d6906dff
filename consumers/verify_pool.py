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

The worker (``consumers.verify_worker``) is a plain child process started when the consumer
starts, fed through a pipe by a thread of the consumer's and answering through another, read by
a second thread. It is not ``multiprocessing``'s: its ``spawn`` start imports the consumer's
main module again in the worker, and its process pool runs a resource tracker, a third process
of 12.7 MB resident (``benchmarks.bench_views_soak``). It ends by itself when the consumer is
killed (its stdin ends). If it dies, the batch is verified in-process and a new worker is
started for the next.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path

import structlog

from consumers.verification import RawRecord, Verdict
from consumers.verify_worker import READY, Row, StageSpec, read_frame, write_frame
from schemas.registry import Registry
from schemas.timing import TimeBounds

log = structlog.get_logger("consumers.verify_pool")

ROOT = Path(__file__).resolve().parents[1]
BOOT = "from consumers.verify_worker import main; main()"


class WorkerLostError(RuntimeError):
    """The worker ended, or could not be written to: its batches are verified in-process."""


def _retrieved(verdicts: asyncio.Future[list[Verdict]]) -> None:
    """Mark a failure as seen: verdicts given up on (timed out, or their worker replaced) fail
    later with nobody awaiting them, and asyncio would log each as never retrieved."""
    if not verdicts.cancelled():
        verdicts.exception()


def row_of(record: RawRecord) -> Row:
    return (record.topic, record.partition, record.offset, record.key, record.value,
            tuple(record.headers), getattr(record, "timestamp", -1),
            getattr(record, "timestamp_type", -1))


def _answered(future: Future[list[Verdict]], frame: bytes) -> None:
    """Settle ``future`` with the worker's answer: its verdicts, or the error it raised (one
    that cannot be rebuilt here comes as a ``RuntimeError`` naming it)."""
    try:
        ok, value = pickle.loads(frame)  # noqa: S301 - from our own worker
    except Exception as exc:  # noqa: BLE001 - an exception type that does not unpickle
        ok, value = False, RuntimeError(f"the verify worker's answer did not unpickle: {exc!r}")
    if future.set_running_or_notify_cancel():
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


_Job = tuple[bytes | None, list[Row], "Future[list[Verdict]]"]


class _Worker:
    """One worker process, a thread writing its batches and one reading its answers, in order."""

    def __init__(self, spec: StageSpec, setup: Callable[[], object] | None) -> None:
        head = [pickle.dumps(sys.path), pickle.dumps((spec, setup))]  # fails before a process
        reply_from, reply_to = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our module
                # -P: not the current directory first on its path (a structlog.py there would
                # run in the worker); it gets ours before it reads anything else
                [sys.executable, "-P", "-c", BOOT, str(reply_to)], stdin=subprocess.PIPE,
                stdout=2,  # whatever it prints goes where the consumer's logs go
                pass_fds=(reply_to,),  # its cwd is ours: ``sys.path``'s "" means the same
                env={**os.environ, "PYTHONPATH": os.pathsep.join(
                    p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)})
        except BaseException:
            os.close(reply_from)
            raise
        finally:
            os.close(reply_to)
        self._replies = os.fdopen(reply_from, "rb")
        self._pending: collections.deque[Future[list[Verdict]]] = collections.deque()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._ended: str | None = None
        self.ready = threading.Event()
        """Set once it said it is ready (imported and set up)."""
        self.settled = threading.Event()
        """Set once it has started (said it is ready) or ended, whichever comes first."""
        threading.Thread(target=self._write, args=(head,), name="verify-writer",
                         daemon=True).start()
        threading.Thread(target=self._read, name="verify-reader", daemon=True).start()

    def submit(self, registry: bytes | None, rows: list[Row]) -> Future[list[Verdict]]:
        future: Future[list[Verdict]] = Future()
        with self._lock:
            if self._ended is not None:
                raise WorkerLostError(self._ended)
            self._pending.append(future)  # answered in this order
            self._jobs.put((registry, rows, future))
        return future

    def _write(self, head: list[bytes]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        try:
            for frame in head:
                write_frame(stdin, frame)
            while (job := self._jobs.get()) is not None:
                registry, rows, future = job
                del job  # nothing of a batch kept while idle: its rows are freed once sent
                with self._lock:  # given up on before it was sent: not sent, nor waited for
                    skip = future.cancelled()
                    if skip and future in self._pending:
                        self._pending.remove(future)  # the answers stay in step
                if not skip:
                    write_frame(stdin, pickle.dumps((registry, rows),
                                                    protocol=pickle.HIGHEST_PROTOCOL))
                del registry, rows, future
        except (OSError, ValueError) as exc:  # its stdin closed: it died (the reader says so)
            self._end(f"the verify worker could not be written to: {exc!r}")
        finally:
            with contextlib.suppress(OSError):
                stdin.close()  # the worker ends at the end of its input

    def _read(self) -> None:
        try:
            hello = read_frame(self._replies)
            if hello is None or pickle.loads(hello) != READY:  # noqa: S301 - our own worker
                return
            self.ready.set()
            self.settled.set()
            while (frame := read_frame(self._replies)) is not None:
                with self._lock:
                    if not self._pending:  # given up on (closed) as it answered
                        continue
                    future = self._pending.popleft()
                _answered(future, frame)
                del frame, future  # the batch's verdicts are its awaiter's alone now
        except OSError as exc:
            self._end(f"the verify worker's answers could not be read: {exc!r}")
        finally:
            self._replies.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5.0)  # reaped, and its exit code known
            self._end(f"the verify worker ended (exit code {self.process.poll()})")

    def _end(self, why: str) -> None:
        """No more batches: fail the ones not answered (the first reason given is kept)."""
        self.settled.set()  # a worker that died starting is not "starting" for ever
        with self._lock:
            self._ended = self._ended or why
            pending, self._pending = list(self._pending), collections.deque()
        for future in pending:
            if future.set_running_or_notify_cancel():
                future.set_exception(WorkerLostError(self._ended))
        self._jobs.put(None)

    def close(self, grace_s: float) -> None:
        """End its input (it finishes the batch in hand), kill it if it has not ended within
        ``grace_s``; batches not answered by then are cancelled, and not sent if not yet."""
        with self._lock:
            for future in self._pending:
                future.cancel()
        self._jobs.put(None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace_s)
        if self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(1.0)
        with self._lock:
            self._ended = self._ended or "closed"
            pending, self._pending = list(self._pending), collections.deque()
        for future in pending:
            future.cancel()


class VerifyPool:
    """One worker process verifying batches in the order they are submitted."""

    def __init__(
        self, trust_anchor: Iterable[bytes], topics: Mapping[str, str],
        partitions: Mapping[str, int], bounds: TimeBounds,
        setup: Callable[[], object] | None = None,
    ) -> None:
        self._spec = StageSpec(tuple(trust_anchor), dict(topics), dict(partitions), bounds)
        function = setup.func if isinstance(setup, functools.partial) else setup
        if getattr(function, "__module__", None) == "__main__":
            raise ValueError("the verify worker's setup must come from a module it can import, "
                             "not from the main module (the worker does not run that)")
        self._setup = setup
        """Run first in the worker (the composition root passes its logging setup): a function
        of a module the worker can import (pickled by name), not of the main module's."""
        self._worker: _Worker | None = None
        self.generation = 0
        """Counts the workers started: a failure reported for an earlier one is not this one's."""
        self._sent: int | None = None
        """The registry version the worker holds (``None``: none, or not known)."""

    def _pool(self) -> _Worker:
        if self._worker is None:
            self.generation += 1
            self._worker = _Worker(self._spec, self._setup)
            self._sent = None
        return self._worker

    def start(self) -> None:
        """Start the worker process (importing what it needs takes seconds) ahead of use;
        nothing if it runs."""
        self._pool()

    @property
    def ready(self) -> bool:
        """The worker has started (its imports take seconds): a batch sent now is verified
        at once, not after them. True too once it has ended, even while starting: ``submit``
        then raises, and the caller replaces it or verifies in-process."""
        return self._worker is not None and self._worker.settled.is_set()

    @property
    def pid(self) -> int | None:
        """The worker's process id (``None`` when none runs)."""
        return None if self._worker is None else self._worker.process.pid

    def submit(self, records: Sequence[RawRecord], registry: Registry,
               version: int, *, restart: bool = True) -> asyncio.Future[list[Verdict]]:
        """Verify ``records`` in the worker against ``registry`` (sent only when ``version``
        differs from the one the worker has). A worker found dead is replaced and the batch
        sent to the new one (which first imports for seconds); without ``restart``, the error
        is raised instead, for a caller that would rather verify the batch itself."""
        rows = [row_of(r) for r in records]
        for attempt in (1, 2):
            worker = self._pool()
            blob = pickle.dumps(registry) if version != self._sent else None
            try:
                future = worker.submit(blob, rows)
            except WorkerLostError as exc:  # died while idle
                if not restart:
                    raise
                self.lost(exc)
                if attempt == 2:  # noqa: PLR2004 - a fresh worker failed too
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
        worker, self._worker, self._sent = self._worker, None, None
        if worker is not None:
            worker.close(grace_s)
