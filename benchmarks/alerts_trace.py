"""``bench_alerts``'s consumer process: the view consumer with the alerts plugin, stages timed.

    python -m benchmarks.alerts_consumer '<views config as JSON>' <chain state dir> [TRACE.json]

(``benchmarks.alerts_consumer`` is the launcher; this module is what it runs.)

Runs what ``tests.integration.alerts.consumer_main`` runs (``run_views`` with the alerts plugin,
delivery signed by the scenario's platform key) until SIGTERM. With ``TRACE.json`` it also notes,
on the wall clock (``time.time()``, the clock the ledger's and the records' times are on), when
each record's batch reached ``ViewSync.apply`` and when the batch's transaction had committed
(``BatchAlerts.committed``, which wakes the delivery worker), and writes them at exit:
``{"batch_start": {event id: t}, "batch_end": {event id: t}, "committed": {alert id: t},
"batches": [[t start, t end, records], ...], "writes": [[caller, asked, got, released], ...]}``
(``writes``: every write transaction on the store, ``ViewStore.writing``: when it was asked
for, when SQLite's write lock was held (``BEGIN IMMEDIATE``), when it ended; the caller is the
function that opened it: ``_apply`` for a view batch, ``run_once`` for the delivery worker's
claim and its record of delivery; ``sql``: per statement kind (``benchmarks.sql_timing``: its
first words, ``VALUES`` lists folded), how many ran and their seconds from the cursor's execute
to its return, which on SQLite is the statement's own time in aiosqlite's thread plus the
hand-overs). The wrappers
only read and note: the consumer's code is untouched (``bench_alerts`` reads the trace into
its ``stages``; its ``--profile`` runs this process under cProfile).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import sql_timing
from consumers.alerts.clock import SystemClock
from consumers.alerts.plugin import BatchAlerts
from consumers.runner import run_views
from consumers.store import ViewStore
from consumers.sync import ViewSync
from infra.logging import configure_logging
from tests.integration.alerts.consumer_main import TIMER_S, log_level, own_process
from tests.integration.alerts.pipeline import plugin
from tests.integration.views.consumer_main import decode
from transport import eventloop


class Trace:
    """Wall-clock times of each record's batch and of each alert's commit."""

    def __init__(self) -> None:
        self.batch_start: dict[str, float] = {}
        self.batch_end: dict[str, float] = {}
        self.committed: dict[str, float] = {}
        self.batches: list[tuple[float, float, int]] = []
        self.writes: list[tuple[str, float, float, float]] = []
        self.sql: dict[str, list[float]] = {}

    def install(self) -> None:
        apply, committed, writing = ViewSync.apply, BatchAlerts.committed, ViewStore.writing
        trace = self

        @contextlib.asynccontextmanager
        async def timed(opened: Any, caller: str) -> AsyncIterator[Any]:
            asked = time.time()
            async with opened as value:
                got = time.time()
                try:
                    yield value
                finally:
                    trace.writes.append((caller, asked, got, time.time()))

        def traced_writing(store: ViewStore, generation: str | None = None) -> Any:
            frame = sys._getframe(1)  # noqa: SLF001 - who opens the transaction
            while frame.f_code.co_name in ("writing", "__aenter__") and frame.f_back is not None:
                frame = frame.f_back  # AlertStore.writing (a context manager): its caller
            return timed(writing(store, generation), frame.f_code.co_name)

        async def traced_apply(sync: ViewSync, records: Sequence[Any], control: Any,
                               *args: Any, **kwargs: Any) -> Any:
            began = time.time()
            ids = [_event_id(r) for r in records]
            try:
                return await apply(sync, records, control, *args, **kwargs)
            finally:
                ended = time.time()
                trace.batches.append((began, ended, len(records)))
                for event_id in ids:
                    if event_id is not None:
                        trace.batch_start.setdefault(event_id, began)
                        trace.batch_end.setdefault(event_id, ended)

        def traced_committed(hook: BatchAlerts, new: Sequence[str]) -> None:
            now = time.time()
            for alert_id in new:
                trace.committed.setdefault(alert_id, now)
            committed(hook, new)

        setattr(ViewSync, "apply", traced_apply)  # noqa: B010 - a wrapper, not an override
        setattr(BatchAlerts, "committed", traced_committed)  # noqa: B010
        setattr(ViewStore, "writing", traced_writing)  # noqa: B010
        self._time_sql()

    def _time_sql(self) -> None:
        trace = self

        def note(key: str, took: float, _rows: int) -> None:
            entry = trace.sql.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] += took

        sql_timing.listen(note)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({"batch_start": self.batch_start, "batch_end": self.batch_end,
                                    "committed": self.committed, "batches": self.batches,
                                    "writes": self.writes, "sql": self.sql}))


def _event_id(record: Any) -> str | None:
    for name, value in record.headers or ():
        if name == "ce_id" and value is not None:
            return bytes(value).decode()
    return None


async def _main(config_json: str, state: Path, trace_path: Path | None) -> None:
    config = decode(config_json)
    trace = Trace()
    if trace_path is not None:
        trace.install()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        timer_s = float(os.environ.get(TIMER_S, "0.2"))
        await run_views(config, stop, alerts=plugin(
            config.kafka, SystemClock(), state, timer_s, own_process=own_process(),
            setup=partial(configure_logging, log_level(), "json")))
    finally:
        if trace_path is not None:
            trace.write(trace_path)


def main() -> None:
    """``python -m benchmarks.alerts_consumer CONFIG STATE [TRACE]``: run until SIGTERM."""
    configure_logging(log_level(), "json")
    eventloop.run(_main(sys.argv[1], Path(sys.argv[2]),
                        Path(sys.argv[3]) if len(sys.argv) > 3 else None))
