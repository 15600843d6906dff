"""Verification on a second core (``consumers.verify_pool``) and the pipeline around it
(``consumers.pipeline``): the same verdicts as in-process, the same views as batch by batch,
and a batch polled before a seek of its partition left out."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from sqlalchemy import select

import consumers.verify_pool as verify_pool_module
from consumers.digest import digest
from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.pipeline import INLINE_MAX, Pipeline
from consumers.store import ViewStore
from consumers.store_read import offsets
from consumers.stored_record import StoredRecord
from consumers.sync import ViewSync
from consumers.verification import Accepted, Reason, Rejected, Verdict, VerificationStage
from consumers.verify_pool import VerifyPool
from producers.registry_reader import RegistryUnavailableError
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
    # the worker also writes each accepted record's timeline provenance, as the consumer would
    accepted = [(r, v) for r, v in zip(records, got, strict=True) if isinstance(v, Accepted)]
    assert len(accepted) >= 10
    assert all(v.provenance == StoredRecord.of(r).dumps(value=False) for r, v in accepted)
    assert all(v.provenance is None for v in expected if isinstance(v, Accepted))


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


class _Followed:
    """The registry follower; ``arrive`` changes its registry at the next refresh (in place,
    as ``RegistryFollower`` does), ``fail_on`` makes that refresh call raise."""

    def __init__(self, registry: Registry | None = None, fail_on: int = 0) -> None:
        self.registry = scenario.registry() if registry is None else registry
        self.version, self.calls, self._fail_on = 1, 0, fail_on
        self._next: Registry | None = None

    def arrive(self, registry: Registry) -> None:
        self._next = registry

    async def refresh(self, *, force: bool = True) -> bool:
        self.calls += 1
        if self.calls == self._fail_on:
            raise RegistryUnavailableError("cannot read participants: KafkaTimeoutError()")
        if self._next is None:
            return False
        self.registry.orgs.clear()
        self.registry.orgs.update(self._next.orgs)
        self.registry._key_owner = dict(self._next._key_owner)
        self.version, self._next = self.version + 1, None
        return True


class _Consumer:
    """aiokafka's consumer as the pipeline sees it: ``getmany`` hands out each partition's
    records from its position (a few per partition per poll), ``seek`` moves a position."""

    def __init__(self, logs: dict[tuple[str, int], list[Record]], per_poll: int = 7) -> None:
        self.logs, self.per_poll = logs, per_poll
        self.position = dict.fromkeys(logs, 0)
        self.sought: list[tuple[str, int, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(*tp) for tp in self.logs}

    def highwater(self, partition: TopicPartition) -> int:
        return len(self.logs[(partition.topic, partition.partition)])

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.position[(partition.topic, partition.partition)] = offset
        self.sought.append((partition.topic, partition.partition, offset))

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Record]]:
        """aiokafka's signature: ``partitions`` (all if none), at most ``max_records``."""
        got = {}
        left = max_records if max_records is not None else len(self.logs) * self.per_poll
        for tp in sorted(self.logs):
            if partitions and TopicPartition(*tp) not in partitions:
                continue
            take = min(self.per_poll, left)
            chunk = self.logs[tp][self.position[tp]:self.position[tp] + take]
            if chunk:
                got[TopicPartition(*tp)] = chunk
                self.position[tp] += len(chunk)
                left -= len(chunk)
            if not left:
                break
        return got


async def _sync(tmp: Path, follower: Any = None,
                hook: Any = None) -> tuple[ViewSync, ViewStore, list[DeadLetter]]:
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / uuid.uuid4().hex}.db")
    await store.open()
    letters: list[DeadLetter] = []

    async def keep(letter: DeadLetter) -> None:
        letters.append(letter)

    stage = (stage_for(scenario.registry()) if follower is None else
             VerificationStage(follower, [OPERATOR_KEY.public_key], TOPICS))
    return (ViewSync(store, stage, DeadLetterQueue(None, "dlq", "t", hooks=[keep]),
                     registry=follower, alerts=hook), store, letters)


def _logs(records: list[Record]) -> dict[tuple[str, int], list[Record]]:
    logs: dict[tuple[str, int], list[Record]] = {}
    for r in records:
        logs.setdefault((r.topic, r.partition), []).append(r)
    return logs


async def _timeline(store: ViewStore) -> list[tuple[Any, ...]]:
    """What the digest leaves out: each timeline row's sequence and record (its provenance)."""
    async with store.reading() as (conn, t):
        tl = t.timeline
        rows = await conn.execute(select(tl.c.subject, tl.c.position, tl.c.sequence,
                                         tl.c.record).order_by(tl.c.subject, tl.c.position))
        return [tuple(r) for r in rows]


async def _reference(tmp: Path, records: list[Record],
                     timeline: list[tuple[Any, ...]] | None = None,
                     ) -> tuple[str, dict[Any, int]]:
    """The views of reading ``records`` batch by batch in-process, and their offsets;
    ``timeline``: filled with ``_timeline``'s rows."""
    sync, store, _ = await _sync(tmp)
    try:
        control = WholeLogControl(_logs(records))
        for start in range(0, len(records), 37):
            await sync.apply(records[start:start + 37], control)
        if timeline is not None:
            timeline.extend(await _timeline(store))
        return await digest(store), await offsets(store)
    finally:
        await store.close()


POLL = 40
"""Records per poll (FastStream's ``max_records``; the views' batch size)."""


async def _drive(pipeline: Pipeline, consumer: _Consumer, store: ViewStore, total: int,
                 hop_s: float = 0.0, polls: int = 400, poll: int = POLL) -> None:
    """FastStream's loop: poll, (its dependency injection's thread hop), hand to ``take``;
    until the store holds every record or ``polls`` polls came back empty."""
    for _ in range(polls):
        got = await consumer.getmany(timeout_ms=0, max_records=poll)  # as FastStream asks
        if got:
            await asyncio.sleep(hop_s)
            await pipeline.take([r for records in got.values() for r in records], consumer)
        elif sum((await offsets(store)).values()) >= total:
            return
        else:
            await asyncio.sleep(0.02)
    raise AssertionError("the store never caught up")


async def _run(tmp: Path, records: list[Record], *, follower: Any = None, hook: Any = None,
               pool: Any = None, hop_s: float = 0.0, before: Any = None,
               timeout_s: float = 60.0, poll: int = POLL,
               timeline: list[tuple[Any, ...]] | None = None,
               ) -> tuple[str, dict[Any, int], list[DeadLetter], Any]:
    """``records`` through the pipeline; its views, offsets, dead letters and consumer;
    ``timeline``: filled with ``_timeline``'s rows."""
    sync, store, letters = await _sync(tmp, follower, hook)
    own = pool is None
    pool = _pool() if own else pool
    consumer = _Consumer(_logs(records))

    async def commit(_consumer: Any, _stored: Mapping[tuple[str, int], int]) -> None:
        return None

    pipeline = Pipeline(sync, pool, follower or _Followed(), commit, verdict_timeout_s=timeout_s)
    applier = asyncio.create_task(pipeline.run())
    try:
        if before is not None:
            await before(pipeline, consumer)
        await _drive(pipeline, consumer, store, len(records), hop_s, poll=poll)
        await pipeline.stop(applier)
        if timeline is not None:
            timeline.extend(await _timeline(store))
        return await digest(store), await offsets(store), letters, consumer
    finally:
        if own:
            pool.close()
        await store.close()


async def test_the_pipeline_gives_the_views_batch_by_batch_gives(tmp_path: Path) -> None:
    records = _records(3)
    theirs: list[tuple[Any, ...]] = []
    ours: list[tuple[Any, ...]] = []
    want = await _reference(tmp_path, records, theirs)
    views, stored, letters, consumer = await _run(tmp_path, records, timeline=ours)
    assert (views, stored) == want
    # the provenance the worker wrote is the one the consumer writes itself, row for row
    assert len(ours) >= len(records) // 2
    assert ours == theirs
    assert letters == []
    # the first batch polled before the pipeline stamped the polls: read again, once
    assert len({(t, p) for t, p, _ in consumer.sought}) == len(consumer.sought)
    assert {o for _, _, o in consumer.sought} == {0}


class _Counting:
    """The real pool, noting the size of each batch sent to it."""

    def __init__(self) -> None:
        self.pool = _pool()
        self.sent: list[int] = []

    def submit(self, records: Any, registry: Any, version: int) -> asyncio.Future[Any]:
        self.sent.append(len(records))
        return self.pool.submit(records, registry, version)

    @property
    def generation(self) -> int:
        return self.pool.generation

    def lost(self, exc: BaseException, generation: int | None = None) -> None:
        self.pool.lost(exc, generation)


@pytest.mark.parametrize("poll", [1, POLL])
async def test_small_batches_met_by_an_idle_applier_are_verified_in_process(
        tmp_path: Path, poll: int) -> None:
    """A batch of at most ``INLINE_MAX`` records that finds the applier waiting is not sent to
    the worker (its round trip is longer than the checks); larger ones, and small ones queued
    behind a batch being applied, are. The views are the same either way."""
    records = _records(3)
    want = await _reference(tmp_path, records)
    pool = _Counting()
    taken: list[int] = []

    async def note_takes(pipeline: Pipeline, _consumer: _Consumer) -> None:
        take = pipeline.take

        async def noted(batch: Any, consumer: Any) -> None:
            taken.append(len(batch))
            await take(batch, consumer)

        pipeline.take = noted  # type: ignore[method-assign]

    try:
        views, stored, letters, _ = await _run(tmp_path, records, pool=pool, poll=poll,
                                               before=note_takes)
    finally:
        pool.pool.close()
    assert (views, stored) == want
    assert letters == []
    large = [n for n in taken[1:] if n > INLINE_MAX]  # the first is read again: never sent
    assert [n for n in pool.sent if n > INLINE_MAX] == large
    if poll == 1:
        assert 0 < len(pool.sent) < len(taken) - 1  # some verified here, some in the worker
    else:
        assert large  # the test's batches are mostly large


class _FailOnce:
    """A batch hook whose first call fails (a lost connection, say): the batch rolls back and
    its partitions are sought back."""

    def __init__(self) -> None:
        self.calls = 0

    async def on_batch(self, *_: Any) -> list[str]:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the connection was lost")
        return []

    def committed(self, new: Any) -> None:
        pass


async def test_a_batch_polled_before_a_failed_batch_seeks_back_is_not_applied_over_the_hole(
        tmp_path: Path) -> None:
    # FastStream's thread hop between the poll and the handler (hop_s) lets the failed batch's
    # seek land between them: stamped at the poll, the later batch is left out, not applied
    # across the records the seek reads again
    records = _records(3)
    want = await _reference(tmp_path, records)
    hook = _FailOnce()
    views, stored, _, consumer = await _run(tmp_path, records, hook=hook, hop_s=0.05)
    assert hook.calls > 2
    assert len(consumer.sought) > len({(t, p) for t, p, _ in consumer.sought})  # sought back
    assert (views, stored) == want


async def test_take_never_drops_a_batch_when_the_registry_cannot_be_read(
        tmp_path: Path) -> None:
    records = _records(2)
    want = await _reference(tmp_path, records)
    follower = _Followed(fail_on=2)
    views, stored, _, _ = await _run(tmp_path, records, follower=follower)
    assert follower.calls > 2
    assert (views, stored) == want


async def test_a_worker_dead_while_idle_is_replaced(tmp_path: Path) -> None:
    records = _records(2)
    want = await _reference(tmp_path, records)
    pool = _pool()
    try:
        pool.start()
        await _until_ready(pool)
        first = pool.generation
        assert pool.pid is not None
        os.kill(pool.pid, signal.SIGKILL)
        await asyncio.sleep(0.5)  # its reader sees it ended
        views, stored, _, _ = await _run(tmp_path, records, pool=pool)
        assert pool.generation == first + 1  # replaced
    finally:
        pool.close()
    assert (views, stored) == want


async def _until_ready(pool: VerifyPool) -> None:
    deadline = time.monotonic() + 60
    while not pool.ready:
        assert time.monotonic() < deadline, "the verify worker did not start"
        await asyncio.sleep(0.05)


async def test_verdicts_of_an_older_registry_are_not_used(tmp_path: Path) -> None:
    # the organisations' keys arrive after the first batches were sent to the worker: what the
    # worker refused (unknown key) is verified again against the registry the batch meets
    records = _records(2)
    want = await _reference(tmp_path, records)
    follower = _Followed(registry=Registry())

    async def late_keys(pipeline: Pipeline, consumer: _Consumer) -> None:
        got = await consumer.getmany()
        await pipeline.take([r for rs in got.values() for r in rs], consumer)  # read again
        got = await consumer.getmany()
        await pipeline.take([r for rs in got.values() for r in rs], consumer)  # empty registry
        follower.arrive(scenario.registry())

    views, stored, letters, _ = await _run(tmp_path, records, follower=follower,
                                           before=late_keys)
    assert [lt.rejection.reason for lt in letters] == []
    assert (views, stored) == want


class _Cancelling:
    """A pool whose verdicts come back cancelled (as ``shutdown(cancel_futures=True)`` does)."""

    def __init__(self) -> None:
        self.lost_count = 0

    def submit(self, *_: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.cancel()
        return future

    generation = 1

    def lost(self, exc: BaseException, generation: int | None = None) -> None:
        assert generation == self.generation
        self.lost_count += 1


async def test_cancelled_verdicts_are_verified_in_process(tmp_path: Path) -> None:
    records = _records(2)
    want = await _reference(tmp_path, records)
    pool = _Cancelling()
    views, stored, _, _ = await _run(tmp_path, records, pool=pool)
    assert pool.lost_count > 0
    assert (views, stored) == want


async def test_a_hung_worker_is_replaced_and_closing_does_not_wait_for_it(
        tmp_path: Path) -> None:
    records = _records(1)
    want = await _reference(tmp_path, records)
    pool = _pool()
    pool.start()
    await _until_ready(pool)
    assert pool.pid is not None
    hung = [pool.pid]
    for pid in hung:
        os.kill(pid, signal.SIGSTOP)  # stuck in C code, say
    try:
        views, stored, _, _ = await _run(tmp_path, records, pool=pool, timeout_s=1.0)
        began = time.monotonic()
        pool.close()
        assert time.monotonic() - began < 10
    finally:
        for pid in hung:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert (views, stored) == want


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
import sys, time
from consumers.verify_pool import VerifyPool
from schemas.timing import TimeBounds
pool = VerifyPool([], {}, {}, TimeBounds())
pool.start()
while {wait} and not pool.ready:
    time.sleep(0.05)
print(pool.pid, flush=True)
sys.stdin.read()
"""


def _outlives_its_killed_parent(*, started: bool) -> int | None:
    """A consumer (``PARENT``) SIGKILLed once its worker is ready (or at once, while the
    worker still imports): the worker's pid if it is still alive 30 s later."""
    program = PARENT.replace("{wait}", str(started))
    with subprocess.Popen([sys.executable, "-c", program], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, cwd=Path(__file__).parents[3]) as parent:
        try:
            assert parent.stdout is not None
            worker = int(parent.stdout.readline())
            os.kill(worker, 0)  # alive while its parent is
        finally:
            parent.kill()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return None
        time.sleep(0.1)
    os.kill(worker, signal.SIGKILL)
    return worker


def test_the_worker_ends_when_its_consumer_is_killed() -> None:
    assert _outlives_its_killed_parent(started=True) is None


def test_a_worker_whose_consumer_died_while_it_started_ends_too() -> None:
    """A consumer SIGKILLed while the worker was still importing once left the worker running
    for ever (one was found alive 43 minutes after a CI run's crash test): the worker ends at
    the end of its input, which comes with its consumer's death."""
    assert _outlives_its_killed_parent(started=False) is None


async def test_a_failure_of_a_replaced_worker_leaves_the_current_one_alone() -> None:
    # a batch queued before its worker was replaced fails too: that must not kill the new one
    records = _records(1)[:3]
    pool = _pool()
    try:
        await pool.submit(records, scenario.registry(), 1)
        old = pool.generation
        pool.lost(RuntimeError("died"), old)
        await pool.submit(records, scenario.registry(), 1)
        current = pool.generation
        assert current == old + 1
        pool.lost(RuntimeError("the queued batch's answer"), old)
        again = await pool.submit(records, scenario.registry(), 1)
        assert pool.generation == current  # the same worker verified it
        assert all(isinstance(v, Accepted) for v in again)
    finally:
        pool.close()


class _Epochs:
    """``ViewSync``'s seek counts, and the partitions it was asked to read again."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.reread_from: dict[tuple[str, int], int] = {}

    def epoch(self, topic: str, partition: int) -> int:
        return self.counts.get((topic, partition), 0)

    def reread(self, _control: Any, records: list[Record]) -> None:
        for r in records:
            self.reread_from.setdefault((r.topic, r.partition), r.offset)


class _SoughtWhilePolled(_Consumer):
    """A seek of ``partition`` back to offset 0 (the rebalance listener's, while aiokafka
    waited for the assignment) lands during the second call of a poll that names it."""

    def __init__(self, logs: dict[tuple[str, int], list[Record]], epochs: _Epochs,
                 partition: tuple[str, int]) -> None:
        super().__init__(logs, per_poll=5)
        self.epochs, self.partition, self.calls = epochs, partition, 0

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[TopicPartition, list[Record]]:
        if TopicPartition(*self.partition) in partitions:
            self.calls += 1
            if self.calls == 2:
                self.epochs.counts[self.partition] = self.epochs.epoch(*self.partition) + 1
                self.position[self.partition] = 0
        return await super().getmany(*partitions, timeout_ms=timeout_ms,
                                     max_records=max_records)


async def test_a_partition_sought_between_a_polls_calls_is_read_again_from_its_first() -> None:
    logs = _logs(_records(4))
    epochs = _Epochs()
    busiest = max(sorted(logs), key=lambda tp: len(logs[tp]))
    tps = [busiest, *sorted(tp for tp in logs if tp != busiest)]
    assert len(logs[busiest]) >= 14
    consumer = _SoughtWhilePolled(logs, epochs, busiest)
    consumer.position[busiest] = 3  # taken from 3 on, then sought back to 0 mid-poll
    pipeline = Pipeline(epochs, None, _Followed(), None)  # type: ignore[arg-type]
    pipeline._watch(consumer)
    got = await consumer.getmany(timeout_ms=0, max_records=20 * len(tps))
    moved = TopicPartition(*tps[0])
    assert moved not in got  # records from before and after the seek are not applied mixed
    # taken before the seek (3..7): left out, the seek placed the partition; taken after it
    # (0..): read again from the first of them
    assert consumer.calls >= 2
    assert epochs.reread_from == {tps[0]: 0}
    assert got  # the other partitions' records are kept
    stamps = next(iter(pipeline._stamps.values()))
    assert tps[0] not in stamps


@dataclasses.dataclass(frozen=True)
class _Stamped:
    topic: str
    partition: int
    offset: int
    timestamp: int


async def test_a_partition_sought_loses_its_place_in_time() -> None:
    """The pipeline hands ``InStep`` the partitions' seek counts: a partition far ahead in time
    is left alone from poll to poll; once sought (here back to records as old as the other
    partition's), its old place no longer counts and it is taken again at once."""
    behind, ahead = ("t", 0), ("t", 1)  # the fake serves a partition-free poll from "t"-0
    logs = {behind: [_Stamped("t", 0, i, i) for i in range(400)],
            ahead: [_Stamped("t", 1, i, 5000 + i) for i in range(400)]}
    epochs = _Epochs()
    consumer = _Consumer(logs, per_poll=10)  # type: ignore[arg-type]
    pipeline = Pipeline(epochs, None, _Followed(), None)  # type: ignore[arg-type]
    pipeline._watch(consumer)
    a, b = TopicPartition(*ahead), TopicPartition(*behind)
    await consumer.getmany(timeout_ms=0, max_records=40)  # both placed in time
    got = await consumer.getmany(timeout_ms=0, max_records=40)
    assert a not in got  # far ahead: left alone
    assert len(got[b]) == 40
    # sought back to its start, where the log (as this fake has it now) is as old as "t"-0
    logs[ahead] = [_Stamped("t", 1, i, i) for i in range(400)]
    consumer.seek(a, 0)
    epochs.counts[ahead] = 1
    got = await consumer.getmany(timeout_ms=0, max_records=40)
    assert a in got  # its old place forgotten: taken, in step with "t"-0
    assert got[a][0].offset == 0


@pytest.mark.parametrize("marked", [True, False])
async def test_verdicts_given_up_on_fail_without_an_unretrieved_error(marked):
    """Verdicts nobody awaits any more (timed out, their worker replaced) fail later; the
    futures ``VerifyPool.submit`` returns mark that failure seen, so asyncio logs nothing."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        verdicts = loop.create_future()
        if marked:
            verdicts.add_done_callback(verify_pool_module._retrieved)
        verdicts.set_exception(RuntimeError("the worker died"))
        await asyncio.sleep(0)  # the done callbacks run
        del verdicts
        gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert [e["message"] for e in errors] == ([] if marked
                                               else ["Future exception was never retrieved"])


def _ce_id(record: Record) -> str:
    return next(bytes(v or b"").decode() for k, v in record.headers if k == "ce_id")


def _verdict_ids(verdicts: list[Verdict]) -> list[str | None]:
    return [v.envelope.id if isinstance(v, Accepted) else v.event_id for v in verdicts]


async def test_a_batch_given_up_on_before_it_was_sent_does_not_shift_the_answers() -> None:
    # the worker answers in order: a batch cancelled while queued (asyncio's cancel reaches
    # the worker's future) is not sent, and the batches after it still get their own verdicts
    records = _records(8)
    first, second, third = records[:-4], records[-4:-2], records[-2:]
    assert len(pickle.dumps([verify_pool_module.row_of(r) for r in first])) > 1 << 16
    pool = _pool()
    try:
        pool.start()
        await _until_ready(pool)
        assert pool.pid is not None
        os.kill(pool.pid, signal.SIGSTOP)  # the first batch (>64 KB) fills the pipe: the
        try:                               # writer waits on it, the others stay queued
            answers = [pool.submit(batch, scenario.registry(), 1)
                       for batch in (first, second, third)]
            await asyncio.sleep(0.2)
            answers[1].cancel()
        finally:
            os.kill(pool.pid, signal.SIGCONT)
        got_first = await asyncio.wait_for(answers[0], 30)
        got_third = await asyncio.wait_for(answers[2], 30)  # never answered if shifted
    finally:
        pool.close()
    assert _verdict_ids(got_first) == [_ce_id(r) for r in first]
    assert _verdict_ids(got_third) == [_ce_id(r) for r in third]
    assert all(isinstance(v, Accepted) for v in got_first + got_third)
