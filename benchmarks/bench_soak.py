"""Memory over a long run: the SDK's publish path for ``--events`` events, RSS sampled as it goes.

    .venv/bin/python -m benchmarks.bench_soak [--events 1000000] [--samples 20]
        [--bootstrap HOST:PORT] [--json] [--json-out FILE]

Issue 18: "memory flat over a 1M-event run". Publishes ``--events`` production reports through
the producers' ``Publisher`` (as ``bench_publish`` does: chain link, Ed25519 signature, the
SQLite outbox, send, acknowledgement) in calls of 5,000, to a fresh 6-partition topic. The drafts
are made call by call, so the benchmark holds no more than one call's worth of its own data:
what grows is the SDK's (and aiokafka's, and the interpreter's). About every ``1/--samples`` of
the run it reads this process's resident set (``VmRSS``) and its peak (``VmHWM``), the Python
objects the garbage collector tracks, and the outbox file's size; it reports RSS at the start
(after the first call), the middle and the end, and the slope in MB per 100k events over the
samples after the first tenth (the warm-up: caches, the allocator's arenas, aiokafka's buffer
pool), fitted by least squares. "Flat" here: that slope at most 1 MB per 100k events (10 MB over
1M events), and the end's RSS under the 250 MB target. The broker: ``--bootstrap``, else
``EMINING_KAFKA_BOOTSTRAP``, else a throwaway local one (1M events take about 750 MB of its disk).
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench_publish import ORG, _topic
from benchmarks.output import (
    RSS_TARGET_MB,
    add_json_out,
    broker,
    exit_on_sigterm,
    own_peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    rss_mb,
    stdout_to_stderr,
    write_json_out,
)
from producers.publisher import Draft, Publisher
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.signing import PrivateKey
from transport import eventloop
from transport.access import KafkaAccess

CALL = 5_000
FLAT_MB_PER_100K = 1.0
WARM_UP = 0.1
"""The first tenth of the run is left out of the slope."""


def _disk_mb(folder: Path) -> float:
    """The bytes of the files under ``folder`` (the SDK's outbox and chain state), in MB."""
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


class Drafts:
    """Production reports over 500 projects, made one call's worth at a time."""

    def __init__(self, topic: str) -> None:
        base = model_for("pk.emining.project.production.reported")
        self._cls: type[EventData] = type("SoakProductionReported", (base,), {"TOPIC": topic})
        self._example = dict(base.EXAMPLE)
        self._t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def call(self, start: int, n: int) -> list[Draft]:
        return [Draft(self._cls.model_validate(
                    {**self._example, "project_id": f"PRJ-BA-CHG-{i % 500 + 1:04d}"}),
                    time=self._t0 + timedelta(seconds=i))
                for i in range(start, start + n)]


def slope_mb_per_100k(points: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares slope of RSS (MB) against events, per 100k events."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 1e5, 3)


async def soak(kafka: KafkaAccess, events: int, samples: int) -> dict[str, Any]:
    topic = await _topic(kafka)
    drafts = Drafts(topic)
    every = max(CALL, (events // samples) // CALL * CALL)
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as state:
        key = PrivateKey.generate(ORG)
        source = f"{ORG}/soak"
        async with Publisher(kafka=kafka, key=key, source=source, state_dir=Path(state),
                             timeout_s=60) as pub:
            started, cpu = time.perf_counter(), time.process_time()
            done = 0
            while done < events:
                n = min(CALL, events - done)
                await pub.publish_many(drafts.call(done, n))
                done += n
                if done in (n, events) or done % every == 0:
                    points.append({
                        "events": done, "rss_mb": rss_mb(os.getpid()),
                        "peak_rss_mb": own_peak_rss_mb(),
                        "gc_objects": len(gc.get_objects()),
                        "outbox_mb": _disk_mb(Path(state)),
                        "seconds": round(time.perf_counter() - started, 1),
                        "cpu_s": round(time.process_time() - cpu, 1)})
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    after_warm = [(p["events"], p["rss_mb"]) for p in points
                  if p["events"] >= WARM_UP * events]
    slope = slope_mb_per_100k(after_warm)
    middle = min(points, key=lambda p: abs(p["events"] - events / 2))
    return {
        "events": events, "seconds": round(elapsed, 1), "events_per_s": round(events / elapsed),
        "cpu_us_per_event": round(cpu / events * 1e6, 1),
        "rss_mb": {"start": points[0]["rss_mb"], "middle": middle["rss_mb"],
                   "end": points[-1]["rss_mb"], "peak": own_peak_rss_mb()},
        "slope_mb_per_100k_events": slope,
        "flat": slope is not None and slope <= FLAT_MB_PER_100K
                and points[-1]["rss_mb"] <= RSS_TARGET_MB,
        "samples": points,
    }


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    rss = result["rss_mb"]
    return [row("soak", f"SDK publish, memory over {result['events']:,} events",
                unit="events/s", rate=result["events_per_s"], rss_mb=rss["peak"],
                slope_mb_per_100k=result["slope_mb_per_100k_events"],
                rss_of="benchmark process",
                target={"max_rss_mb": RSS_TARGET_MB, "max_slope_mb_per_100k": FLAT_MB_PER_100K},
                note=f"RSS start {rss['start']} / middle {rss['middle']} / end {rss['end']} MB; "
                     f"slope {result['slope_mb_per_100k_events']} MB per 100k events after "
                     f"the first tenth ({'flat' if result['flat'] else 'not flat'})")]


async def run_on(bootstrap: str | None, events: int, samples: int) -> dict[str, Any]:
    with broker(bootstrap) as kafka:
        return await soak(kafka, events, samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=20, help="RSS samples over the run")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        result = eventloop.run(run_on(args.bootstrap, args.events, args.samples))
    write_json_out(args.json_out, "soak", result, summary(result))
    if args.json:
        print_json(result)
        return
    rss = result["rss_mb"]
    print(f"{result['events']:,} events in {result['seconds']} s ({result['events_per_s']:,}/s,"
          f" {result['cpu_us_per_event']} µs CPU per event)")
    print(f"RSS MB: start {rss['start']}, middle {rss['middle']}, end {rss['end']}, peak "
          f"{rss['peak']}; slope {result['slope_mb_per_100k_events']} MB per 100k events "
          f"after the first tenth: {'flat' if result['flat'] else 'not flat'}")
    for p in result["samples"]:
        print(f"  {p['events']:>9,} events  RSS {p['rss_mb']:7.1f} MB  gc objects "
              f"{p['gc_objects']:>9,}  outbox {p['outbox_mb']} MB  {p['seconds']} s")


if __name__ == "__main__":
    main()
