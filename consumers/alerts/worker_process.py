"""The alert workers in a process of their own, beside the view consumer: the second core.

The view consumer's event loop used to run the delivery worker too: at 1,000 events/s it spent
~40% of its time claiming, signing and publishing alerts and ~55% applying batches, and the
batches queued behind (docs/performance.md, "Ninth pass"). ``in_own_process(workers)`` returns
the same ``Workers`` callable the plugin runs, but the workers it wraps run in a child process
(started with ``spawn``) over their own connection to the same store: the outbox, its claims and
their leases are what make several workers safe, as they were for ``emining alerts deliver``.

The consumer wakes the child through a pipe: a byte whenever it committed new alerts (the
plugin's ``wake`` event), so an alert goes out without waiting for a poll. The pipe also ends the
child: at end of file (the consumer stopped, or died even by SIGKILL, closing its end) the child
finishes the round it is in and exits. A child that dies is started again after ``RESTART_S``,
longer while it keeps dying at once; what it had claimed is claimed again once its lease ends,
and settled against the log first.

On SQLite the two take turns at the write lock (``consumers.write_turns``): left to SQLite's
busy handler, a consumer beyond its limit takes the lock batch after batch and the child rarely
gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import structlog

from consumers import write_turns
from consumers.alerts import relayed_metrics
from consumers.alerts.plugin import Workers
from consumers.alerts.store import AlertStore
from consumers.store import ViewStore
from consumers.write_turns import GuestTurns, HostTurns, NoTurns
from transport import eventloop

log = structlog.get_logger("consumers.alerts.worker_process")

RESTART_S = 1.0
"""How long after a child died the next one starts; doubled after each child that died within
``HEALTHY_S`` of its start, up to ``RESTART_MAX_S`` (a child that cannot start, say its chain
held by another process, must not re-import everything every second)."""
RESTART_MAX_S = 30.0
HEALTHY_S = 60.0
STOP_GRACE_S = 30.0
"""How long a stopping child may take to finish its round before it is killed."""
COUNTS_S = 5.0
"""How long an ending child's last counts may take to reach the consumer."""


def _child(workers: Workers, store_url: str, wake: Connection,
           setup: Callable[[], object] | None, flags: Any, counts: Connection) -> None:
    """The child process: the workers over their own store, until the pipe ends; what they
    counted sent back on ``counts`` (``relayed_metrics``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the parent stops us
    if setup is not None:
        setup()
    sender = relayed_metrics.Sender(counts)
    try:
        eventloop.run(_serve(workers, store_url, wake, flags, sender))
    finally:
        sender.close(COUNTS_S)
        counts.close()


async def _send_counts_often(sender: relayed_metrics.Sender) -> None:
    while True:
        sender.offer()
        await asyncio.sleep(relayed_metrics.SEND_S)


async def _serve(workers: Workers, store_url: str, pipe: Connection, flags: Any,
                 sender: relayed_metrics.Sender) -> None:
    loop = asyncio.get_running_loop()
    wake, stop = asyncio.Event(), asyncio.Event()
    fd = pipe.fileno()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        if data:
            wake.set()
        else:  # end of file: the consumer closed its end, or is gone
            loop.remove_reader(fd)
            stop.set()

    loop.add_reader(fd, readable)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    store = AlertStore(ViewStore(store_url, inline=True))
    if flags is not None:
        store.views.turns = GuestTurns(flags)
    sending = asyncio.create_task(_send_counts_often(sender))
    try:
        await store.open()
        log.info("alert_workers_started", pid=os.getpid())
        await workers(store, wake, stop)
    except Exception:
        log.exception("alert_workers_failed", pid=os.getpid())
        raise SystemExit(1) from None
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await store.views.close()
        pipe.close()


def in_own_process(workers: Workers, setup: Callable[[], object] | None = None) -> Workers:
    """``workers`` to be run in a child process (``workers`` and ``setup`` must pickle: module
    functions, or ``functools.partial`` of them). ``setup`` runs first in the child (logging)."""

    async def run(store: AlertStore, wake: asyncio.Event, stop: asyncio.Event) -> None:
        delay = RESTART_S
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            code = await _one_child(workers, setup, store.views, wake, stop)
            if stop.is_set():
                return
            if asyncio.get_running_loop().time() - started > HEALTHY_S:
                delay = RESTART_S
            log.error("alert_workers_died", exit_code=code, restart_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, RESTART_MAX_S)

    return run


async def _one_child(workers: Workers, setup: Callable[[], object] | None, views: ViewStore,
                     wake: asyncio.Event, stop: asyncio.Event) -> int | None:
    """Run one child until it ends or ``stop``; its exit code (None: it could not start)."""
    reader, writer = multiprocessing.Pipe(duplex=False)
    counted, counts = multiprocessing.Pipe(duplex=False)
    flags = write_turns.shared() if views.dialect == "sqlite" else None
    child: Any = multiprocessing.get_context("spawn").Process(
        target=_child, args=(workers, views.url, reader, setup, flags, counts),
        name="alert-workers", daemon=False)
    try:
        child.start()
    except (OSError, ValueError, RuntimeError, pickle.PicklingError, AttributeError,
            TypeError) as exc:
        log.exception("alert_workers_not_started", error=f"{type(exc).__name__}: {exc}"[:300])
        writer.close()
        counted.close()
        return None
    finally:
        reader.close()  # the child has its own copy: at its end of file only ours remains
        counts.close()
    os.set_blocking(writer.fileno(), False)
    if flags is not None:
        views.turns = HostTurns(flags)  # the child's writes go between the consumer's batches
    exited = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(child.sentinel, exited.set)
    receiver = relayed_metrics.Receiver(counted, relayed_metrics.TOTALS)
    try:
        while not stop.is_set() and not exited.is_set():
            waits = [asyncio.ensure_future(e.wait()) for e in (wake, stop, exited)]
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if wake.is_set():
                wake.clear()
                with contextlib.suppress(BlockingIOError, BrokenPipeError):
                    os.write(writer.fileno(), b"w")  # a full pipe holds a wake-up already
    finally:
        loop.remove_reader(child.sentinel)
        writer.close()  # end of file: the child finishes its round and exits
        try:
            await _ended(child, None if exited.is_set() else STOP_GRACE_S)
        finally:
            views.turns = NoTurns()  # after: a child finishing its round still takes turns
            # its last counts (the pipe ends with it), then what it counted is kept
            await asyncio.to_thread(receiver.ended, COUNTS_S)
    code: int | None = child.exitcode
    return code


async def _ended(child: Any, grace_s: float | None) -> None:
    """Wait for ``child`` to exit (and reap it: its exit code is known only then), killed if it
    takes longer than ``grace_s`` (None: it has exited, its sentinel said so)."""
    await asyncio.to_thread(child.join, grace_s)
    if child.is_alive():
        log.warning("alert_workers_killed", pid=child.pid, grace_s=grace_s)
        child.kill()
    await asyncio.to_thread(child.join, 5.0)
