"""The alert workers in a process of their own: woken through the pipe, stopped, restarted when
they die, and gone when the consumer is SIGKILLed (no broker: the workers here only note what
reached them, in a file, with their pid)."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
import structlog.testing

from consumers.alerts import worker_process
from consumers.alerts.store import AlertStore
from consumers.alerts.worker_process import in_own_process
from consumers.store import ViewStore

ROOT = Path(__file__).resolve().parents[3]


async def woken(wake: asyncio.Event, stop: asyncio.Event) -> bool:
    """Wait for a wake-up or the stop: True, the wake-up taken, if it was a wake-up."""
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
    if not wake.is_set():
        return False
    wake.clear()
    return True


async def note_wakes(notes: Path, die_after: int | None, store: AlertStore, wake: asyncio.Event,
                     stop: asyncio.Event) -> None:
    """A stand-in for the delivery: a line per start, wake-up and stop; the first child to be
    woken ``die_after`` times dies (exit code 3)."""
    pid = os.getpid()

    def note(what: str) -> None:
        with notes.open("a") as out:
            out.write(f"{pid} {what} {store.views.url}\n")

    note("start")
    times = 0
    while not stop.is_set():
        if await woken(wake, stop):
            times += 1
            note("wake")
            died = notes.with_suffix(".died")
            if die_after is not None and times >= die_after and not died.exists():
                died.touch()
                os._exit(3)
    note("stop")


def lines(notes: Path) -> list[tuple[int, str, str]]:
    if not notes.exists():
        return []
    return [(int(pid), what, url) for pid, what, url in
            (line.split(" ", 2) for line in notes.read_text().splitlines())]


async def until(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def store(tmp_path: Path) -> AlertStore:
    return AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))


@pytest.mark.timeout(120)
async def test_the_child_is_woken_through_the_pipe_and_ends_its_round_when_stopped(
    tmp_path: Path, store: AlertStore,
) -> None:
    notes = tmp_path / "notes"
    wake, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(in_own_process(partial(note_wakes, notes, None))(store, wake, stop))
    await until(lambda: len(lines(notes)) == 1)
    [(child, what, url)] = lines(notes)
    assert (what, url) == ("start", store.views.url)  # its own store, on the same database
    assert child != os.getpid()
    for n in (1, 2, 3):
        wake.set()
        await until(lambda n=n: sum(w == "wake" for _, w, _ in lines(notes)) == n)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert [w for _, w, _ in lines(notes)] == ["start", "wake", "wake", "wake", "stop"]
    assert {p for p, _, _ in lines(notes)} == {child}
    assert not alive(child)


@pytest.mark.timeout(120)
async def test_a_child_that_dies_is_started_again(
    tmp_path: Path, store: AlertStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_process, "RESTART_S", 0.1)
    notes = tmp_path / "notes"
    wake, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(in_own_process(partial(note_wakes, notes, 1))(store, wake, stop))
    try:
        await until(lambda: len(lines(notes)) == 1)
        wake.set()  # the first child notes it and dies
        await until(lambda: [w for _, w, _ in lines(notes)] == ["start", "wake", "start"])
        first, second = lines(notes)[0][0], lines(notes)[2][0]
        assert first != second
        assert not alive(first)
        wake.set()  # the second child is woken as the first was
        await until(lambda: len(lines(notes)) == 4)
        assert lines(notes)[3][:2] == (second, "wake")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert lines(notes)[-1][:2] == (second, "stop")


async def fail_at_start(store: AlertStore, wake: asyncio.Event, stop: asyncio.Event) -> None:
    raise RuntimeError("the chain is held by another process")


@pytest.mark.timeout(120)
async def test_a_child_that_keeps_failing_is_started_again_later_and_later(
    store: AlertStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_process, "RESTART_S", 0.1)
    wake, stop = asyncio.Event(), asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(in_own_process(fail_at_start)(store, wake, stop))
        try:
            await until(lambda: sum(e["event"] == "alert_workers_died" for e in logs) >= 3)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
    died = [e for e in logs if e["event"] == "alert_workers_died"][:3]
    assert [e["exit_code"] for e in died] == [1, 1, 1]  # reaped: the code is known, not None
    assert [e["restart_in_s"] for e in died] == [0.1, 0.2, 0.4]


_CONSUMER = """
import asyncio, sys
from functools import partial
from pathlib import Path
from consumers.alerts.store import AlertStore
from consumers.alerts.worker_process import in_own_process
from consumers.store import ViewStore
from tests.unit.alerts.test_worker_process import note_wakes

async def main() -> None:
    store = AlertStore(ViewStore(sys.argv[2]))
    await in_own_process(partial(note_wakes, Path(sys.argv[1]), None))(
        store, asyncio.Event(), asyncio.Event())  # never stopped: SIGKILLed

asyncio.run(main())
"""


@pytest.mark.timeout(120)
async def test_a_sigkilled_consumer_leaves_no_child_behind(
    tmp_path: Path, store: AlertStore,
) -> None:
    """The consumer's end of the pipe closes with it: the child ends its round and exits."""
    notes = tmp_path / "notes"
    consumer = subprocess.Popen(  # noqa: ASYNC220 - started at once, SIGKILLed below
        [sys.executable, "-c", _CONSUMER, str(notes), store.views.url],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        await until(lambda: len(lines(notes)) == 1)
        child = lines(notes)[0][0]
        assert alive(child)
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(10)
        await until(lambda: not alive(child), timeout_s=30)
        assert [w for _, w, _ in lines(notes)] == ["start", "stop"]  # ended its round itself
    finally:
        if consumer.poll() is None:
            consumer.kill()
        for pid, _, _ in lines(notes):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


async def write_often(notes: Path, times: int, store: AlertStore, wake: asyncio.Event,
                      stop: asyncio.Event) -> None:
    """The child's side of the turns test: ``times`` write transactions 0.1 s apart (a claim,
    then publishing, then the record of delivery), each one's wait noted."""
    for _ in range(times):
        await asyncio.sleep(0.1)
        asked = time.monotonic()
        async with store.writing():
            waited = time.monotonic() - asked
        with notes.open("a") as out:
            out.write(f"{waited}\n")
    await stop.wait()


@pytest.mark.timeout(180)
async def test_the_child_gets_sqlites_lock_between_the_batches_of_a_consumer_beyond_its_limit(
    tmp_path: Path,
) -> None:
    """The consumer writes back to back (a batch holds the lock 300 ms, the next begins at
    once); without turns the child waits in SQLite's busy handler, which sleeps up to 100 ms
    between tries and so rarely finds the lock free (claims waited 6.5 s at 1,500 events/s)."""
    views = ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}", inline=True)
    await views.open()
    notes = tmp_path / "waits"
    wake, stop = asyncio.Event(), asyncio.Event()
    child = asyncio.create_task(in_own_process(partial(write_often, notes, 10))(
        AlertStore(views), wake, stop))
    batches = 0
    try:
        deadline = time.monotonic() + 60
        while len(lines_of(notes)) < 10 and time.monotonic() < deadline:
            async with views.writing():
                await asyncio.sleep(0.3)  # a batch's work, the lock held
            batches += 1
    finally:
        stop.set()
        await asyncio.wait_for(child, 30)
        await views.close()
    waits = [float(w) for w in lines_of(notes)]
    assert len(waits) == 10, f"the child wrote {len(waits)} times in 60 s beside {batches} batches"
    # at most one batch (300 ms) each on a quiet machine; without turns 0.5-6.5 s, median ~2 s
    assert statistics.median(waits) < 1.0, waits
    assert max(waits) < 5.0, waits


def lines_of(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []
