"""Benchmarks print their result on stdout and nothing else; logs and progress go to stderr.

``--json`` output is a document for ``python -m json.tool``, ``jq`` or a CI step, so while a
benchmark runs, stdout (the file descriptor, so child processes too: a broker, ``initdb``,
uvicorn's access log) is pointed at stderr; the result is written once it is restored.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from infra import local_kafka
from infra.kafka_settings import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings
from transport.access import KafkaAccess


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Within the block, whatever is written to stdout goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def exit_on_sigterm() -> None:
    """SIGTERM ends a benchmark the way Ctrl-C does, cleaning up: the ``finally`` blocks run
    and stop the server, consumers and throwaway broker it started. By default SIGTERM ends the
    process at once, and a killed ``bench_gateway`` left its uvicorn server running."""

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def quiet_logging() -> None:
    """Logs to stderr at WARNING (a log line per event would be the load being measured)."""
    configure_logging(os.environ.get("EMINING_LOG_LEVEL") or "warning", "console")


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()


# --- One machine-readable shape for every benchmark (``--json-out FILE``; ``make bench``) ------

RSS_TARGET_MB = 250.0
"""Issue 18: every service at most 250 MB resident (decimal megabytes, as the issue says)."""


def add_json_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json-out", type=Path, default=None, metavar="FILE",
        help="also write {name, result, summary} to FILE (the rows `make bench` tabulates)")


def row(
    benchmark: str, measure: str, *, unit: str, rate: float | None, raw: float | None = None,
    p50_ms: float | None = None, p95_ms: float | None = None, p99_ms: float | None = None,
    rss_mb: float | None = None, slope_mb_per_100k: float | None = None,
    rss_of: str = "", target: Mapping[str, float] | None = None, note: str = "",
) -> dict[str, Any]:
    """One line of the table: what was measured, raw aiokafka's rate in the same run (if the
    benchmark has one), latency percentiles, the peak RSS of the measured process, how fast its
    memory grew over a long run (MB per 100k events) and the issue's target (``min_rate``,
    ``min_ratio``, ``max_p50_ms``, ``max_p95_ms``, ``max_p99_ms``, ``max_rss_mb``,
    ``max_slope_mb_per_100k``); ``benchmarks.table`` derives the ratio and whether the target
    is met."""
    return {"benchmark": benchmark, "measure": measure, "unit": unit, "rate": rate, "raw": raw,
            "p50_ms": p50_ms, "p95_ms": p95_ms, "p99_ms": p99_ms, "rss_mb": rss_mb,
            "slope_mb_per_100k": slope_mb_per_100k, "rss_of": rss_of,
            "target": dict(target or {}), "note": note}


def write_json_out(path: Path | None, name: str, result: dict[str, Any],
                   summary: list[dict[str, Any]]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "result": result, "summary": summary}, indent=2)
                    + "\n")


def _mb(kib: float) -> float:
    return round(kib * 1024 / 1e6, 1)


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident set (``VmHWM``) of a live process, in MB; this process if ``pid`` is None."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return _mb(int(line.split()[1]))
    return own_peak_rss_mb()  # pragma: no cover - not Linux


def rss_mb(pid: int) -> float:
    """A live process's resident set now (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return _mb(int(line.split()[1]))
    return 0.0  # pragma: no cover - not Linux


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux ``/proc``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def live_children_peak_rss_mb(pid: int, *, now: bool = False) -> dict[int, float]:
    """The peak RSS of each of ``pid``'s live children (the view consumer's verify worker, an
    alert delivery process and the resource tracker ``multiprocessing`` starts with it), in MB;
    with ``now``, their resident set at this moment instead."""
    found: dict[int, float] = {}
    for child in children_of(pid):
        with contextlib.suppress(FileNotFoundError):  # ended meanwhile
            found[child] = rss_mb(child) if now else peak_rss_mb(child)
    return found


def workers_peak_rss_mb(pid: int) -> float:
    """The summed peak RSS of ``pid``'s live children, in MB; 0 if it has none."""
    return round(sum(live_children_peak_rss_mb(pid).values()), 1)


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """The CPU time each of ``pid``'s live children has used so far (see ``cpu_seconds``)."""
    found: dict[int, float] = {}
    for child in children_of(pid):
        with contextlib.suppress(FileNotFoundError):  # ended meanwhile
            found[child] = cpu_seconds(child)
    return found


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, every thread) a live process has used so far; this one if
    ``pid`` is None."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_peak_rss_mb() -> float:
    """This process's peak RSS (``getrusage``; kilobytes on Linux), in MB."""
    return _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def children_peak_rss_mb() -> float:
    """The largest peak RSS of this process's children that were waited for, in MB."""
    return _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


@contextlib.contextmanager
def broker(bootstrap: str | None = None) -> Iterator[KafkaAccess]:
    """The broker every benchmark uses: ``bootstrap`` (credential from ``EMINING_KAFKA_*``),
    else ``EMINING_KAFKA_BOOTSTRAP``'s, else a throwaway local broker, as its admin, stopped
    at the end (``make bench`` starts one and hands it to each benchmark by environment)."""
    if bootstrap:
        yield kafka_access(Settings(kafka_bootstrap=bootstrap))
        return
    if os.environ.get("EMINING_KAFKA_BOOTSTRAP"):
        yield kafka_access(Settings())
        return
    settings = Settings(kafka_bootstrap=None, state_dir=Path(tempfile.mkdtemp()) / "state",
                        kafka_username=None, kafka_password=None, kafka_password_file=None,
                        kafka_ca_file=None)
    local_kafka.up(settings, owner_pid=os.getpid())
    try:
        yield kafka_access(settings)
    finally:
        local_kafka.down(settings)
