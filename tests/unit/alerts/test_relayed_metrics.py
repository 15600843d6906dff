"""What the alert workers count in their own process is served by the consumer's registry: summed
with its own, a label set only a child saw included, and never going back when a child dies and
a new one counts from 0 again."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from functools import partial
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumers.alerts import relayed_metrics, worker_process
from consumers.alerts.relayed_metrics import Relayed, Sender, Totals, snapshot
from consumers.alerts.store import AlertStore
from consumers.alerts.worker_process import in_own_process
from consumers.store import ViewStore
from producers.metrics import PUBLISH_LATENCY, PUBLISHED
from tests.unit.alerts.test_worker_process import until, woken

ACKNOWLEDGED = ("emining_events_published_total", (("outcome", "acknowledged"),))
"""The served sample of alerts the broker acknowledged."""


@pytest.fixture
def totals(monkeypatch: pytest.MonkeyPatch) -> Totals:
    """This process's children's counts, fresh for the test (``worker_process`` fills them)."""
    fresh = Totals()
    monkeypatch.setattr(relayed_metrics, "TOTALS", fresh)
    return fresh


def served(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the registry serves, parsed back from the exposition text."""
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metrics() -> tuple[Counter, Histogram, Gauge]:
    return (Counter("t_sent", "sent", ["outcome"], registry=None),
            Histogram("t_seconds", "seconds", buckets=(0.1, 1.0), registry=None),
            Gauge("t_lag", "lag", registry=None))


def test_the_childrens_counts_are_added_to_the_consumers_own() -> None:
    sent, seconds, lag = metrics()
    sent.labels(outcome="acknowledged").inc(2)  # the consumer's own
    seconds.observe(0.05)
    lag.set(7)
    child_sent, child_seconds, child_lag = metrics()  # a child's copies of the same metrics
    child_sent.labels(outcome="acknowledged").inc(5)
    child_sent.labels(outcome="pending").inc(1)  # a label set the consumer never counted
    child_seconds.observe(0.5)
    child_seconds.observe(3.0)
    child_lag.set(100)  # a gauge is the consumer's own: not added
    totals = Totals()
    registry = CollectorRegistry()
    for collector in (sent, seconds, lag):
        registry.register(Relayed(collector, totals))
    before = served(registry)
    assert before[("t_sent_total", (("outcome", "acknowledged"),))] == 2
    assert ("t_sent_total", (("outcome", "pending"),)) not in before

    totals.received(snapshot([child_sent, child_seconds, child_lag]))
    after = served(registry)
    assert after[("t_sent_total", (("outcome", "acknowledged"),))] == 7
    assert after[("t_sent_total", (("outcome", "pending"),))] == 1
    assert after[("t_seconds_count", ())] == 3
    assert after[("t_seconds_sum", ())] == pytest.approx(3.55)
    assert [after[("t_seconds_bucket", (("le", le),))] for le in ("0.1", "1.0", "+Inf")] == \
        [1, 2, 3]
    assert after[("t_lag", ())] == 7
    assert after[("t_sent_created", (("outcome", "acknowledged"),))] == \
        before[("t_sent_created", (("outcome", "acknowledged"),))]  # the consumer's own time


def test_a_counter_served_never_goes_back_when_a_child_is_replaced() -> None:
    sent, _, _ = metrics()
    totals = Totals()
    registry = CollectorRegistry()
    registry.register(Relayed(sent, totals))
    key = ("t_sent_total", (("outcome", "acknowledged"),))
    first, _, _ = metrics()
    first.labels(outcome="acknowledged").inc(4)
    totals.received(snapshot([first]))
    first.labels(outcome="acknowledged").inc(6)
    totals.received(snapshot([first]))  # a later snapshot replaces the earlier one
    assert served(registry)[key] == 10
    totals.child_ended()
    assert served(registry)[key] == 10
    second, _, _ = metrics()  # the restarted child counts from 0
    second.labels(outcome="acknowledged").inc(3)
    totals.received(snapshot([second]))
    assert served(registry)[key] == 13
    totals.child_ended()
    totals.child_ended()  # a child that sent nothing adds nothing
    assert served(registry)[key] == 13


def first_time(mark: Path) -> bool:
    """True once: ``mark`` is left behind."""
    if mark.exists():
        return False
    mark.touch()
    return True


async def publish_on_wake(die_first: Path, store: AlertStore, wake: asyncio.Event,
                          stop: asyncio.Event) -> None:
    """A stand-in for the delivery: at each wake-up, 5 alerts acknowledged in 0.25 s; the first
    child dies after its first (once its counts had time to be sent)."""
    while not stop.is_set():
        if await woken(wake, stop):
            PUBLISHED.labels(outcome="acknowledged").inc(5)
            PUBLISH_LATENCY.observe(0.25)
            if first_time(die_first):
                await asyncio.sleep(relayed_metrics.SEND_S * 2.5)
                os._exit(3)


@pytest.mark.timeout(120)
async def test_the_delivery_processes_counts_reach_the_consumers_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, totals: Totals,
) -> None:
    monkeypatch.setattr(worker_process, "RESTART_S", 0.1)
    registry = CollectorRegistry()
    registry.register(Relayed(PUBLISHED, totals))
    key = ACKNOWLEDGED
    own = served(registry).get(key, 0.0)  # this process's own count, from other tests
    store = AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    died = tmp_path / "died"
    wake, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(in_own_process(partial(publish_on_wake, died))(store, wake, stop))
    try:
        await until(lambda: totals.served != {})  # the first child's first (empty) counts
        wake.set()  # 5, then the first child dies
        await until(lambda: served(registry).get(key) == own + 5)
        await until(lambda: totals.ended.get(key) == 5)  # kept when the child died
        wake.set()  # the second child counts 5 more, from 0
        await until(lambda: served(registry).get(key) == own + 10)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert totals.live == {}
    assert totals.ended[key] == 10
    assert totals.ended[("emining_publish_seconds_count", ())] == 2
    assert totals.ended[("emining_publish_seconds_sum", ())] == pytest.approx(0.5)
    assert served(registry)[key] == own + 10


def note_start(notes: Path) -> None:
    with notes.open("a") as out:
        out.write(f"{os.getpid()}\n")


async def count_and_end(notes: Path, store: AlertStore, wake: asyncio.Event,
                        stop: asyncio.Event) -> None:
    """A child that counts 2 alerts 0.1 s after it started (after its first periodic send, so
    only its last send carries them) and ends at once: it is started again and again."""
    note_start(notes)
    await asyncio.sleep(0.1)
    PUBLISHED.labels(outcome="acknowledged").inc(2)


@pytest.mark.timeout(120)
async def test_a_child_that_ends_sends_its_counts_as_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, totals: Totals,
) -> None:
    monkeypatch.setattr(worker_process, "RESTART_S", 0.05)
    key = ACKNOWLEDGED
    store = AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    notes = tmp_path / "notes"
    wake, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(in_own_process(partial(count_and_end, notes))(store, wake, stop))
    try:
        await until(lambda: totals.ended.get(key, 0) >= 6)  # three children or more
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    children = notes.read_text().split()
    assert len(set(children)) == len(children) >= 3
    assert totals.ended[key] == 2 * len(children)
    assert totals.live == {}


@pytest.mark.timeout(60)  # a send on the caller's thread would block here for good
def test_a_consumer_that_does_not_read_never_stalls_the_child() -> None:
    """Counts offered while nobody reads the pipe (the consumer busy) wait in the sender's
    thread, the newest replacing the rest; ``offer`` itself never blocks, though far more
    snapshots are offered than the pipe holds."""
    reading, writing = multiprocessing.Pipe(duplex=False)
    sender = Sender(writing)
    key = ACKNOWLEDGED
    started = time.monotonic()
    for _ in range(200):  # ~2.3 KB each: the pipe holds ~16
        PUBLISHED.labels(outcome="acknowledged").inc()
        sender.offer()
    offered = time.monotonic() - started
    latest = snapshot()[key]
    received = []
    while not received or received[-1][key] != latest:
        assert reading.poll(10), "the newest counts never came"
        received.append(reading.recv())
    sender.close(5)
    assert offered < 5.0
    assert len(received) < 200  # the ones not sent in time were replaced
    assert [r[key] for r in received] == sorted(r[key] for r in received)
