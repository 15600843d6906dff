"""Spread reading and per-record inspection over worker processes, one slice of a partition each.

Each worker fetches its own slices straight from the broker, so raw records never cross a
process boundary: only the compact results, column by column (``Columns``), and, for the
completeness check, each record's 32-byte leaf hash come back to the parent, which keeps the
sequential chain pass.
Workers come from a ``forkserver`` (Linux) or ``spawn`` context, never
a plain ``fork`` of a parent that runs an event loop and resolver threads; each receives the
folded registry once, through the pool's initializer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from array import array
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import forkserver
from typing import NamedTuple

from consumers.audit.columns import Columns
from consumers.audit.inspect import Inspector
from consumers.audit.leaves import LeafTable, leaf_hashes
from consumers.audit.records import AuditTopics, RawRecord
from consumers.audit.snapshot import LogReader, Snapshot
from schemas.registry import Registry
from schemas.timing import TimeBounds
from transport import eventloop
from transport.access import KafkaAccess

SLICE = 2000
"""The smallest task: below it, a fetch session costs more than the records it brings."""

_STATE: dict[str, object] = {}


class Slice(NamedTuple):
    """Offsets ``[start, stop)`` of one partition."""

    topic: str
    partition: int
    start: int
    stop: int


def plan(snapshot: Snapshot, topics: tuple[str, ...], workers: int = 2) -> list[Slice]:
    """Cut the partitions of ``topics`` into about six slices per worker, largest first.

    Few slices keep the per-task cost (a fetch session) small; largest-first keeps the workers
    equally busy to the end.
    """
    parts = {tp: (snapshot.start[tp], end) for tp, end in snapshot.end.items()
             if tp[0] in topics and end > snapshot.start[tp]}
    total = sum(end - start for start, end in parts.values())
    size = max(SLICE, -(-total // (6 * max(workers, 1))))
    out = [
        Slice(topic, partition, offset, min(offset + size, end))
        for (topic, partition), (start, end) in parts.items()
        for offset in range(start, end, size)
    ]
    return sorted(out, key=lambda s: s.start - s.stop)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _init_worker(kafka: KafkaAccess, timeout_s: float, registry: Registry,
                 trust_anchor: list[bytes], topics: AuditTopics,
                 partitions: dict[str, int], bounds: TimeBounds) -> None:
    _STATE.update(kafka=kafka, timeout_s=timeout_s,
                  inspector=Inspector(registry, trust_anchor, topics, partitions, bounds))


async def read_slice(kafka: KafkaAccess, piece: Slice, timeout_s: float) -> list[RawRecord]:
    tp = (piece.topic, piece.partition)
    only = Snapshot(start={tp: piece.start}, end={tp: piece.stop})
    records: list[RawRecord] = []
    async with LogReader(kafka, timeout_s=timeout_s) as reader:
        async for batch in reader.read(only, [piece.topic]):
            records.extend(batch)
    return records


class SliceResult(NamedTuple):
    """What a worker sends back for one slice."""

    piece: Slice
    inspected: Columns
    offsets: array[int]
    leaf_hashes: bytes
    """The records' leaf hashes, 32 bytes each, in the order of ``offsets``."""
    cpu: float


def _inspect_slice(piece: Slice) -> SliceResult:
    """The slice's results, its leaf hashes and the CPU seconds this worker spent on them."""
    cpu = time.process_time()
    inspector = _STATE["inspector"]
    assert isinstance(inspector, Inspector), "worker not initialised"
    timeout_s = _STATE["timeout_s"]
    assert isinstance(timeout_s, float)
    kafka = _STATE["kafka"]
    assert isinstance(kafka, KafkaAccess), "worker not initialised"
    records = eventloop.run(read_slice(kafka, piece, timeout_s))
    offsets, hashes = leaf_hashes(records).get((piece.topic, piece.partition),
                                              (array("q"), b""))
    return SliceResult(piece, Columns(map(inspector.inspect, records)), offsets, hashes,
                       time.process_time() - cpu)


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["consumers.audit.pool"])
        return ctx
    return multiprocessing.get_context("spawn")


def warm_up() -> None:
    """Start the fork server now (a fresh interpreter importing the contract takes about a
    second), so that it overlaps reading the registry; a no-op where there is none."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        _context()
        forkserver.ensure_running()


async def inspect_slices(
    kafka: KafkaAccess,
    slices: list[Slice],
    inspector_args: tuple[Registry, list[bytes], AuditTopics, dict[str, int], TimeBounds],
    *,
    workers: int,
    timeout_s: float,
    on_done: Callable[[int], None],
    leaves: LeafTable | None = None,
) -> tuple[Columns, float]:
    """Read and inspect every slice on ``workers`` processes (results in no particular order);
    also the CPU seconds the workers spent. The slices' leaf hashes go to ``leaves``."""
    loop = asyncio.get_running_loop()
    results = Columns()
    cpu = 0.0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_init_worker,
        initargs=(kafka, float(timeout_s), *inspector_args),
    ) as pool:
        pending = {loop.run_in_executor(pool, _inspect_slice, piece): piece for piece in slices}
        for finished in asyncio.as_completed(pending):
            part = await finished
            results.extend(part.inspected)
            cpu += part.cpu
            if leaves is not None:
                leaves.add_chunk((part.piece.topic, part.piece.partition), part.offsets,
                                 part.leaf_hashes)
            on_done(len(part.inspected))
    return results, cpu
