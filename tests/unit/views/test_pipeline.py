"""Verification on a second core (``consumers.verify_pool``) and the pipeline around it
(``consumers.pipeline``): the same verdicts as in-process, the same views as batch by batch,
and a batch polled before a seek of its partition left out."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from consumers.digest import digest
from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.pipeline import Pipeline
from consumers.store import ViewStore
from consumers.store_read import offsets
from consumers.sync import ViewSync
from consumers.verification import Accepted, Reason, Rejected, Verdict
from consumers.verify_pool import PARENT_CHECK_S, VerifyPool
from schemas.registry import Registry
from schemas.timing import TimeBounds
from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS
from tests.integration.views import scenario
from tests.unit.views.harness import OPERATOR_KEY, Log, Record, WholeLogControl, stage_for

TOPICS = {PROJECTS: PROJECTS, APPROVALS: APPROVALS, SHIPMENTS: SHIPMENTS}


def _pool() -> VerifyPool:
    return VerifyPool([OPERATOR_KEY.public_key], TOPICS, {}, TimeBounds())


def _records(stories: int = 2) -> list[Record]:
    log = Log()
    return [r for steps in scenario.build(stories).rounds() for r in log.records(steps)]


def _spoilt(records: list[Record]) -> list[Record]:
    """Good records and, among them, every kind of bad one the stage must name."""
    good = records[:12]
    first = good[0]
    other_signature = dict(good[1].headers)["ce_signature"]
    forged = dataclasses.replace(first, headers=tuple(
        (k, other_signature if k == "ce_signature" else v) for k, v in first.headers))
    other = dataclasses.replace(good[1], value=good[1].value[:-1] + b' ,"x":1}')
    return [*good, forged, other,
            dataclasses.replace(first, value=b"{not json"),
            dataclasses.replace(first, value=None),
            dataclasses.replace(first, headers=()),
            dataclasses.replace(first, topic="elsewhere")]


def _same(ours: Verdict, theirs: Verdict) -> bool:
    if isinstance(ours, Accepted) and isinstance(theirs, Accepted):
        return ours == theirs and ours.envelope.data == theirs.envelope.data
    return ours == theirs


async def test_the_worker_gives_the_verdicts_the_stage_gives_in_process() -> None:
    records = _spoilt(_records())
    expected = [stage_for(scenario.registry()).check(r) for r in records]
    reasons = {v.reason for v in expected if isinstance(v, Rejected)}
    assert {Reason.SIGNATURE, Reason.BAD_JSON, Reason.MISSING_HEADER,
            Reason.WRONG_TOPIC} <= reasons, reasons
    assert sum(isinstance(v, Accepted) for v in expected) >= 10
    pool = _pool()
    try:
        got = await pool.submit(records, scenario.registry(), 1)
    finally:
        pool.close()
    assert len(got) == len(expected)
    assert all(_same(a, b) for a, b in zip(got, expected, strict=True)), [
        (a, b) for a, b in zip(got, expected, strict=True) if not _same(a, b)]


async def test_the_worker_judges_by_the_registry_sent_with_the_newest_version() -> None:
    records = _records(1)[:5]
    pool = _pool()
    try:
        empty = await pool.submit(records, Registry(), 1)
        full = await pool.submit(records, scenario.registry(), 2)
        kept = await pool.submit(records, Registry(), 2)  # same version: not sent again
    finally:
        pool.close()
    assert {v.reason for v in empty if isinstance(v, Rejected)} == {Reason.UNKNOWN_KEY}
    assert all(isinstance(v, Accepted) for v in full)
    assert all(isinstance(v, Accepted) for v in kept)


async def test_a_worker_that_dies_is_replaced_and_the_registry_sent_again() -> None:
    records = _records(1)[:5]
    pool = _pool()
    try:
        await pool.submit(records, scenario.registry(), 1)
        executor = pool._pool()
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        failed = pool.submit(records, scenario.registry(), 1)
        try:
            await failed
        except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, whatever its form
            pool.lost(exc)
        else:
            raise AssertionError("a killed worker cannot verify")
        again = await pool.submit(records, scenario.registry(), 1)  # version unchanged
    finally:
        pool.close()
    assert all(isinstance(v, Accepted) for v in again)


class _Followed:
    def __init__(self) -> None:
        self.registry, self.version, self.refreshes = scenario.registry(), 1, 0

    async def refresh(self, *, force: bool = True) -> bool:
        self.refreshes += 1
        return False


async def _sync(tmp: Path) -> tuple[ViewSync, ViewStore, list[DeadLetter]]:
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / uuid.uuid4().hex}.db")
    await store.open()
    letters: list[DeadLetter] = []

    async def hook(letter: DeadLetter) -> None:
        letters.append(letter)

    return (ViewSync(store, stage_for(scenario.registry()),
                     DeadLetterQueue(None, "dlq", "t", hooks=[hook])), store, letters)


def _batches(records: list[Record], size: int) -> list[list[Record]]:
    return [records[i:i + size] for i in range(0, len(records), size)]


def _logs(records: list[Record]) -> dict[tuple[str, int], list[Record]]:
    logs: dict[tuple[str, int], list[Record]] = {}
    for r in records:
        logs.setdefault((r.topic, r.partition), []).append(r)
    return logs


async def test_the_pipeline_gives_the_views_batch_by_batch_gives(tmp_path: Path) -> None:
    records = _records(3)
    control = WholeLogControl(_logs(records))
    one, one_store, one_letters = await _sync(tmp_path)
    two, two_store, two_letters = await _sync(tmp_path)
    pool = _pool()
    submitted: list[int] = []
    submit = pool.submit

    def counting(batch: Sequence[Any], registry: Registry, version: int) -> Any:
        submitted.append(len(batch))
        return submit(batch, registry, version)

    pool.submit = counting  # type: ignore[method-assign]
    committed: list[Mapping[tuple[str, int], int]] = []
    batches = _batches(records, 37)
    all_applied = asyncio.Event()

    async def commit(_consumer: Any, stored: Mapping[tuple[str, int], int]) -> None:
        committed.append(dict(stored))
        if len(committed) == len(batches):
            all_applied.set()

    pipeline = Pipeline(two, pool, _Followed(), commit)
    applier = asyncio.create_task(pipeline.run())
    try:
        for batch in batches:
            await one.apply(batch, control)
            await pipeline.take(batch, control)
        await asyncio.wait_for(all_applied.wait(), 60)
        await pipeline.stop(applier)
        assert await digest(two_store) == await digest(one_store)
        assert await offsets(two_store) == await offsets(one_store)
        assert sum(submitted) == len(records)
        assert all(committed)
        assert [(lt.rejection.reason, lt.rejection.event_id) for lt in two_letters] == [
            (lt.rejection.reason, lt.rejection.event_id) for lt in one_letters]
    finally:
        pool.close()
        await one_store.close()
        await two_store.close()


class _Seekable(WholeLogControl):
    def __init__(self, logs: dict[tuple[str, int], list[Record]]) -> None:
        super().__init__(logs)
        self.sought: list[tuple[str, int, int]] = []

    def seek(self, partition: Any, offset: int) -> None:
        self.sought.append((partition.topic, partition.partition, offset))


async def test_a_batch_polled_before_a_seek_of_its_partition_is_left_out_there(
        tmp_path: Path) -> None:
    records = _records(2)
    logs = _logs(records)
    tp = max(logs, key=lambda k: len(logs[k]))
    line = logs[tp]
    assert len(line) >= 4
    control = _Seekable(logs)
    sync, store, _ = await _sync(tmp_path)
    try:
        # polled: the partition's records from offset 2 on (0 and 1 not applied yet); then the
        # consumer is sought back to 0, as after a failed batch, before that batch is applied
        stale = line[2:]
        epochs = sync.epochs(stale)
        sync.positioned(*tp, 0)
        outcome = await sync.apply(stale, control, epochs=epochs)
        assert (outcome.applied, outcome.skipped) == (0, len(stale))
        assert (await offsets(store)).get(tp, 0) == 0
        # the seek's own batch, from 0: applied, the seek marker still there for it
        fresh = await sync.apply(line, control, epochs=sync.epochs(line))
        assert fresh.skipped == 0
        assert fresh.committed[tp] == line[-1].offset + 1
        assert control.sought == []
        # without the epochs (fetched after the seek), the same stale batch would be taken
        # as the seek's own and applied over the hole
        other, other_store, _ = await _sync(tmp_path)
        try:
            other.positioned(*tp, 0)
            taken = await other.apply(stale, control)
            assert taken.committed.get(tp) == line[-1].offset + 1
        finally:
            await other_store.close()
    finally:
        await store.close()


PARENT = """
import sys
from consumers.verify_pool import PARENT_CHECK_S, VerifyPool
from schemas.timing import TimeBounds
pool = VerifyPool([], {}, {}, TimeBounds())
pool.start()
executor = pool._pool()
executor.submit(int).result()
print(*executor._processes, flush=True)
sys.stdin.read()
"""


def test_the_worker_ends_when_its_consumer_is_killed() -> None:
    with subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]) as parent:
        try:
            assert parent.stdout is not None
            worker = int(parent.stdout.readline())
            os.kill(worker, 0)  # alive while its parent is
        finally:
            parent.kill()
    deadline = time.monotonic() + 10 * PARENT_CHECK_S
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    raise AssertionError(f"worker {worker} outlived its parent")
