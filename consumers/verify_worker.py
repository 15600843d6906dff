"""The verify worker's side of ``consumers.verify_pool``: a process that verifies batches.

    python -c "from consumers.verify_worker import main; main()" REPLY_FD

Started by ``VerifyPool`` with a plain ``subprocess`` (not ``multiprocessing``: its spawn start
imports the parent's main module again in the worker, and its process pool runs a resource
tracker process, 12.7 MB resident, next to every consumer). It speaks length-prefixed pickles:
- on stdin, from the consumer: ``sys.path`` first, then the ``StageSpec`` and the logging setup,
  then each batch as ``(registry, rows)`` (the registry pickled, or ``None``: unchanged);
- on ``REPLY_FD``, to the consumer: ``READY`` once it has imported and set up, then for each
  batch, in order, ``(True, verdicts)`` or ``(False, the exception)``.

Its stdout is its parent's stderr (``VerifyPool``), so nothing it prints, or a library prints,
can land in a command's JSON or in the replies. It ends at the end of its stdin: when the
consumer closes it, and when the consumer dies (killed or not), as the pipe's one writer is
gone then; a worker still importing when that happens ends once it reads.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any

from consumers.stored_record import StoredRecord
from consumers.verification import Accepted, Verdict, VerificationStage
from schemas.registry import Registry
from schemas.timing import TimeBounds
from transport.memory import Trimmer

Row = tuple[str, int, int, bytes | None, bytes | None, tuple[tuple[str, bytes | None], ...],
            int, int]
"""A record as sent to the worker (a ``StoredRecord``'s fields, as a tuple: cheaper to pickle):
topic, partition, offset, key, value, headers, timestamp, timestamp type."""

READY = "ready"
_LENGTH = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class StageSpec:
    """What the worker needs to build the consumer's ``VerificationStage``."""

    trust_anchor: tuple[bytes, ...]
    topics: dict[str, str]
    partitions: dict[str, int]
    bounds: TimeBounds


def write_frame(out: IO[bytes], payload: bytes) -> None:
    out.write(_LENGTH.pack(len(payload)) + payload)
    out.flush()


def read_frame(source: IO[bytes]) -> bytes | None:
    """The next frame, or ``None`` at the end of the stream (a frame cut short is an end too:
    its writer died)."""
    head = source.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = source.read(length)
    return payload if len(payload) == length else None


class _Fixed:
    """The worker's registry source: the copy last sent; refreshing is the consumer's job."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def refresh(self, *, force: bool = True) -> bool:  # noqa: ARG002 - the protocol's
        return False


class Worker:
    """The stage the consumer described, rebuilt whenever it sends a registry."""

    def __init__(self, spec: StageSpec) -> None:
        self._spec = spec
        self._stage: VerificationStage | None = None
        self._trimmer = Trimmer()
        """Gives the memory a batch freed back to the system (``transport.memory``)."""

    def verify(self, registry: bytes | None, rows: Sequence[Row]) -> list[Verdict]:
        """The verdict of each row, against the registry sent last."""
        if registry is not None:
            copy: Registry = pickle.loads(registry)  # noqa: S301 - from the parent process
            spec = self._spec
            self._stage = VerificationStage(_Fixed(copy), spec.trust_anchor, spec.topics,
                                            spec.partitions, spec.bounds)
        if self._stage is None:
            raise RuntimeError("no registry sent yet")
        verdicts = []
        for row in rows:
            record = StoredRecord(*row)
            verdict = self._stage.check(record)
            if isinstance(verdict, Accepted):  # its timeline provenance, written here
                verdict = replace(verdict, provenance=record.dumps(value=False))
            verdicts.append(verdict)
        self._trimmer.maybe()  # the records parsed for the batch before this one are free now
        return verdicts


def _answer(job: bytes, worker: Worker) -> bytes:
    try:
        registry, rows = pickle.loads(job)  # noqa: S301 - from the parent process
        verdicts: Any = (True, worker.verify(registry, rows))
        return pickle.dumps(verdicts, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # noqa: BLE001 - the consumer decides what a failed batch means
        try:
            return pickle.dumps((False, exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            return pickle.dumps((False, RuntimeError(repr(exc)[:2000])))


def serve(source: IO[bytes], replies: IO[bytes]) -> None:
    """Answer batches from ``source`` until it ends."""
    path = read_frame(source)
    if path is None:
        return
    sys.path[:] = pickle.loads(path)  # noqa: S301 - where the consumer finds its modules
    first = read_frame(source)
    if first is None:
        return
    spec, setup = pickle.loads(first)  # noqa: S301
    setup_of: Callable[[], object] | None = setup
    if setup_of is not None:
        setup_of()
    else:
        import structlog  # noqa: PLC0415 - logs go to stderr, as every process's of this project

        structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    worker = Worker(spec)
    write_frame(replies, pickle.dumps(READY))
    while (job := read_frame(source)) is not None:
        write_frame(replies, _answer(job, worker))


def main() -> None:
    replies = os.fdopen(int(sys.argv[1]), "wb")
    with contextlib.suppress(BrokenPipeError):  # the consumer went away while we answered
        serve(sys.stdin.buffer, replies)
