"""``bench_views --sql``'s consumer: the view consumer with the time of its SQL noted.

    python -m benchmarks.views_sql_trace '<views config as JSON>' TRACE.json

Runs what ``tests.integration.views.consumer_main`` runs (``run_views``, ``emining views run``'s
consumer with its verify worker; logging at warning, that module's default) until SIGTERM and
writes, at exit, ``{"sql": {kind: [count, seconds, rows]}}``: each statement as
``benchmarks.sql_timing`` times it (on the view consumer's SQLite, whose calls run inline on the
loop's thread, SQLite's own work plus the driver's call and, for a query, its fetch), and each
commit, ``COMMIT``, timed around the dialect's ``do_commit``. The whole run is counted,
start-up included (``summary`` divides by every event applied).

How much of the consumer's thread SQLite itself takes is the floor the README's targets row for
view sync reasons from (docs/performance.md, "Fifteenth pass"). The wrappers only read and
note: the consumer's code is untouched.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine.default import DefaultDialect

from benchmarks import sql_timing
from tests.integration.views.consumer_main import decode

Timings = dict[str, list[float]]
"""Statement kind → [count, seconds, rows]."""


def install(timings: Timings) -> Callable[[], None]:
    """Note every statement's and every commit's time in ``timings`` (in every engine of the
    process); returns what takes it off again."""

    def note(key: str, seconds: float, rows: int) -> None:
        entry = timings.setdefault(key, [0, 0.0, 0])
        entry[0] += 1
        entry[1] += seconds
        entry[2] += rows

    undo_statements = sql_timing.listen(note)
    do_commit: Callable[[DefaultDialect, Any], None] = DefaultDialect.do_commit

    def timed_commit(dialect: DefaultDialect, dbapi_connection: Any) -> None:
        started = time.perf_counter()
        try:
            do_commit(dialect, dbapi_connection)
        finally:
            note("COMMIT", time.perf_counter() - started, 1)

    setattr(DefaultDialect, "do_commit", timed_commit)  # noqa: B010 - a wrapper, not an override

    def uninstall() -> None:
        undo_statements()
        setattr(DefaultDialect, "do_commit", do_commit)  # noqa: B010

    return uninstall


def summary(timings: Timings, events: int, top: int = 8) -> dict[str, Any]:
    """The seconds in SQL in all, per event, and the ``top`` kinds by time."""
    seconds = sum(entry[1] for entry in timings.values())
    kinds = sorted(timings.items(), key=lambda kv: -kv[1][1])[:top]
    return {
        "seconds": round(seconds, 3),
        "us_per_event": round(seconds / max(events, 1) * 1e6, 1),
        "top": [{"statement": key, "count": int(count), "rows": int(rows),
                 "seconds": round(secs, 3),
                 "us_per_row": round(secs / max(rows, 1) * 1e6, 1)}
                for key, (count, secs, rows) in kinds],
    }


async def _main(config_json: str, trace_path: Path) -> None:
    from consumers.runner import run_views  # noqa: PLC0415 - after the logging is set up

    timings: Timings = {}
    install(timings)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await run_views(decode(config_json), stop)
    finally:
        _write(trace_path, timings)


def _write(path: Path, timings: Timings) -> None:
    path.write_text(json.dumps({"sql": timings}))


def read(path: Path) -> Timings:
    """What the consumer wrote at exit."""
    timings: Timings = json.loads(path.read_text())["sql"]
    return timings


def main() -> None:
    """``python -m benchmarks.views_sql_trace CONFIG TRACE``: run until SIGTERM."""
    from infra.logging import configure_logging  # noqa: PLC0415 - as consumer_main does
    from transport import eventloop  # noqa: PLC0415

    configure_logging("warning", "json")
    eventloop.run(_main(sys.argv[1], Path(sys.argv[2])))


if __name__ == "__main__":
    main()
