"""``audit replay`` against the live view consumer: the same log, the same digest, as of then."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from aiokafka.admin import NewTopic

import consumers.audit.feeder as feeder_module
import consumers.audit.replay as replay_module
from consumers.audit.replay import ReplayResult, replay
from consumers.config import ViewsConfig, ViewTopics
from consumers.digest import digest
from consumers.store import ViewStore
from consumers.verify_pool import VerifyPool, WorkerLostError
from schemas.envelope import seal, to_record
from tests.integration.audit.conftest import inject, moved
from tests.integration.kafka_admin import create_topics, delete_topics
from tests.integration.views.conftest import caught_up, running
from tests.unit.audit import parties as pa
from tests.unit.audit.scenario import Story, event, story

pytestmark = pytest.mark.integration

T1 = datetime(2024, 6, 1, tzinfo=UTC)
"""Steps dated up to T1 are published first, the rest after the live digest is taken."""


@pytest.fixture
async def views_config(kafka_access, audit_topics, parties, tmp_path):
    dlq = audit_topics.projects.replace(".projects", ".dlq")
    await create_topics(kafka_access, [NewTopic(dlq, 1, 1)])
    topics = ViewTopics(projects=audit_topics.projects, approvals=audit_topics.approvals,
                        shipments=audit_topics.shipments,
                        participants=audit_topics.participants, dlq=dlq)
    yield ViewsConfig(kafka=kafka_access, store_url=f"sqlite:///{tmp_path / 'live.db'}",
                      trust_anchor=tuple(parties.trust_anchor), topics=topics,
                      group_id=f"test.audit.{uuid.uuid4().hex[:8]}")
    await delete_topics(kafka_access, [dlq])


async def _live_digest(config: ViewsConfig) -> str:
    await caught_up(config.store_url, config)
    store = ViewStore(config.store_url)
    try:
        await store.open()
        return (await digest(store)).sha256
    finally:
        await store.close()


async def _replay(bus, parties, tmp_path, **options):
    url = f"sqlite:///{tmp_path / f'replay-{uuid.uuid4().hex[:6]}.db'}"
    return await replay(bus.kafka, parties.trust_anchor, url, topics=bus.topics, **options)


async def test_as_of_replays_equal_the_live_view_as_it_was(bus, parties, views_config, tmp_path):
    builder = Story(seed=11)
    for i in range(10):
        builder.project(i)
    steps = sorted(builder.steps, key=lambda s: s.time)
    early = [s for s in steps if s.time <= T1]
    late = [s for s in steps if s.time > T1]
    assert early
    assert late

    async with running(views_config):
        await bus.steps(early)
        live_then = await _live_digest(views_config)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.05)  # every later record is appended strictly after ``moment``
        await bus.steps(late)
        live_now = await _live_digest(views_config)
    assert live_then != live_now

    as_recorded = await _replay(bus, parties, tmp_path, as_of=moment)
    assert as_recorded.digest.sha256 == live_then
    assert as_recorded.rejected == 0
    assert as_recorded.later == len(late)

    by_event_time = await _replay(bus, parties, tmp_path, as_of=T1, include_late=True)
    assert by_event_time.digest.sha256 == live_then
    assert by_event_time.skipped == len(late)

    whole = await _replay(bus, parties, tmp_path)
    assert whole.digest.sha256 == live_now
    again = await _replay(bus, parties, tmp_path)
    assert again.digest.sha256 == whole.digest.sha256
    assert whole.applied == len(steps)

    nothing_recorded_yet = await _replay(bus, parties, tmp_path, as_of=T1)
    assert nothing_recorded_yet.records == 0
    assert nothing_recorded_yet.digest.rows == {"projects": 0, "approvals": 0, "shipments": 0,
                                                "timeline": 0}


async def test_a_subject_replay_holds_that_subject_only(bus, parties, tmp_path):
    builder = Story(seed=3)
    for i in range(4):
        builder.project(i)
    await bus.steps(sorted(builder.steps, key=lambda s: s.time))
    project = builder.steps[0].data.subject
    result = await _replay(bus, parties, tmp_path, subject=project)
    assert result.digest.rows["projects"] == 1
    assert result.digest.rows["approvals"] == result.digest.rows["shipments"] == 0
    mine = sum(1 for s in builder.steps if s.data.subject == project)
    assert result.digest.rows["timeline"] == result.applied == mine


def _outcome(result: ReplayResult) -> tuple[object, ...]:
    return (result.digest.sha256, result.digest.rows, result.records, result.applied,
            result.rejected, result.rejections, result.held)


async def _tampered(bus, parties, raw) -> None:
    """A story, plus a forged record (rejected) and one whose predecessor never came (held)."""
    topics = bus.topics
    await bus.steps(story(6))
    firm = parties.keys[pa.FIRM_A]
    project = moved(event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0801",
                          operator_uscc=pa.USCC[pa.FIRM_A]), topics)
    env = seal(project, source=f"{pa.FIRM_A}/forger", signer=firm.signer(), sequence=1,
               prevhash="0" * 64, time=T1)
    rec = to_record(env)
    forged = dict(env.data_json, district="Quetta")
    await raw.send_and_wait(topics.projects, json.dumps(forged, sort_keys=True).encode(),
                            key=rec.key, headers=rec.headers)
    orphan = seal(moved(event("pk.emining.project.registered", project_id="PRJ-BA-CHG-0802",
                              operator_uscc=pa.USCC[pa.FIRM_A]), topics),
                  source=f"{pa.FIRM_A}/gappy", signer=firm.signer(), sequence=2,
                  prevhash="1" * 64, time=T1)
    await inject(raw, topics.projects, orphan)


@pytest.mark.parametrize("starting", [False, True], ids=["worker running", "worker starting"])
async def test_a_replay_verified_in_a_worker_equals_one_verified_here(
    bus, parties, raw, tmp_path, monkeypatch, starting
):
    """Verdicts from the worker, or (while it starts) from this process: the same replay."""
    await _tampered(bus, parties, raw)
    start = VerifyPool.start

    def started(self):
        start(self)
        assert self._worker.ready.wait(60)  # the worker runs before the first batch

    monkeypatch.setattr(VerifyPool, "start", started)
    if starting:  # its imports never end: every batch is verified here
        monkeypatch.setattr(VerifyPool, "ready", property(lambda self: False))
    monkeypatch.setattr(feeder_module, "BATCH", 10)  # many batches: the worker runs one ahead
    sent: list[int] = []
    lost: list[BaseException] = []
    submit, forget = VerifyPool.submit, VerifyPool.lost

    def counted(self, records, registry, version, **options):
        sent.append(len(records))
        return submit(self, records, registry, version, **options)

    def noted(self, exc, generation=None):
        lost.append(exc)
        forget(self, exc, generation)

    monkeypatch.setattr(VerifyPool, "submit", counted)
    monkeypatch.setattr(VerifyPool, "lost", noted)
    here = await _replay(bus, parties, tmp_path, workers=0)
    assert sent == []
    there = await _replay(bus, parties, tmp_path, workers=1)
    assert lost == []
    if starting:
        assert sent == []
    else:
        assert len(sent) == -(-there.records // 10) > 10
        assert sum(sent) == there.records  # every record verified by the worker
    assert here.rejected == 1
    assert here.rejections[0]["reason"] == "signature"
    assert [h["source"] for h in here.held] == [f"{pa.FIRM_A}/gappy"]
    assert _outcome(there) == _outcome(here)


class _FailingWorker(VerifyPool):
    """A stand-in worker that fails as ``mode`` says; none is started. Like ``VerifyPool``, a
    lost worker is replaced (a new generation) at the next ``start``."""

    mode: ClassVar[str] = ""
    calls: ClassVar[list[tuple[str, int | None]]] = []
    submitted: ClassVar[list[int]] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.alive = False

    @property
    def ready(self) -> bool:
        return self.alive

    def start(self) -> None:
        if self.mode == "start fails":
            raise OSError(24, "Too many open files")  # no pipe, no process
        if not self.alive:
            self.generation += 1
            self.alive = True
            self.calls.append(("started", self.generation))

    def submit(self, records, registry, version, *, restart=True):
        assert restart is False  # a dead worker is the replay's to replace, not submit's
        self.submitted.append(len(records))
        if self.mode == "refused":
            raise WorkerLostError("the worker died while idle")
        verdicts = asyncio.get_running_loop().create_future()
        if self.mode == "cancelled":
            verdicts.cancel()
        else:
            verdicts.set_exception(WorkerLostError("the worker died"))
        return verdicts

    def lost(self, exc, generation=None) -> None:
        self.calls.append(("lost", generation))
        if generation is None or generation == self.generation:
            self.alive = False

    def close(self, grace_s=5.0) -> None:
        self.alive = False


@pytest.mark.parametrize("mode", ["verdicts fail", "cancelled", "refused", "start fails"])
async def test_a_replay_whose_worker_fails_verifies_here_and_ends_the_same(
    bus, parties, raw, tmp_path, monkeypatch, mode
):
    """Whatever the worker does, the replay ends as one verified here; a failing worker is
    replaced at most ``WORKER_FAILURES`` times, each counted once however many of its batches
    fail with it, and then the replay verifies the rest itself."""
    await _tampered(bus, parties, raw)
    monkeypatch.setattr(feeder_module, "BATCH", 10)
    monkeypatch.setattr(replay_module, "VerifyPool", _FailingWorker)
    monkeypatch.setattr(_FailingWorker, "mode", mode)
    _FailingWorker.calls.clear()
    _FailingWorker.submitted.clear()
    here = await _replay(bus, parties, tmp_path, workers=0)
    failed = await _replay(bus, parties, tmp_path, workers=1)
    assert _outcome(failed) == _outcome(here)
    started = [g for what, g in _FailingWorker.calls if what == "started"]
    lost = [g for what, g in _FailingWorker.calls if what == "lost"]
    if mode == "start fails":  # no worker ever ran: nothing was sent to one, all verified here
        assert _FailingWorker.submitted == []
        assert failed.records > 0
        return
    assert _FailingWorker.submitted  # the worker was given batches before it failed
    batches = -(-failed.records // 10)
    assert batches > 4 * feeder_module.WORKER_FAILURES  # so most came after it was given up
    assert started == list(range(1, feeder_module.WORKER_FAILURES + 1))
    assert set(lost) == set(started)  # each failure named its own worker
