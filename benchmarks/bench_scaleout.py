"""View sync scaled out: one ``emining views run`` process against three, on one PostgreSQL store.

    .venv/bin/python -m benchmarks.bench_scaleout [--events 20000] [--batch 500] [--json]
        [--processes 1,3] [--json-out FILE]

Publishes the views tests' scenario once (signed through the SDK) to fresh topics of 6
partitions each, then measures, over the same records:
- raw: aiokafka reading every record and ``json.loads``-ing its value (the ratio base);
- for each process count (``--processes 1,3``): that many view consumer processes
  (``consumers.runner.run_views``, what ``emining views run`` runs) in one group, each with its
  own static membership id, on a fresh PostgreSQL database, started together; timed by the
  store's offsets from the first record applied to the last, so joining the group and the
  rebalances while the members arrive count in.
Also reported: the CPU seconds the consumer processes used, the machine's core count and load
average, so a figure taken on a busy or small machine says so. Uses ``EMINING_KAFKA_BOOTSTRAP``
or starts a throwaway broker; PostgreSQL comes from ``EMINING_TEST_POSTGRES_URL`` or a
throwaway cluster (durable commits, as ``benchmarks.bench_views``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks.bench_views import publish, run_raw
from benchmarks.output import (
    add_json_out,
    broker,
    exit_on_sigterm,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    write_json_out,
)
from consumers.config import ViewTopics
from consumers.store import ViewStore
from consumers.store_read import offsets
from infra.local_postgres import LocalPostgres
from tests.integration.views.conftest import config_for, fresh_database
from tests.integration.views.consumer_main import encode
from transport import eventloop
from transport.access import KafkaAccess

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run_group(kafka: KafkaAccess, topics: ViewTopics, url: str, total: int, batch: int,
                    processes: int) -> dict[str, Any]:
    """``processes`` view consumers in one group on one store, until it holds every record."""
    base = config_for(kafka, topics, url, batch_size=batch)
    children = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.views.consumer_main",
        encode(replace(base, instance_id=f"bench-{i}")),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i in range(processes)]
    store = ViewStore(url)
    try:
        await store.open()
        start_at, start_count, done = None, 0, 0
        cpu_at_start: list[float] = []
        while done < total:
            if any(c.returncode is not None for c in children):
                raise RuntimeError("a view consumer process ended on its own")
            done = sum((await offsets(store)).values())
            if start_at is None and done:
                start_at, start_count = time.perf_counter(), done
                cpu_at_start = [_cpu_seconds(c.pid) for c in children]
            await asyncio.sleep(0.05)
        assert start_at is not None
        seconds = time.perf_counter() - start_at
        cpu = sum(_cpu_seconds(c.pid) for c in children) - sum(cpu_at_start)
        rss = [round(_rss_mib(c.pid), 1) for c in children]
    finally:
        for child in children:
            if child.returncode is None:
                child.terminate()
        for child in children:
            await asyncio.wait_for(child.wait(), 60)
        await store.close()
    return {"events": done - start_count, "seconds": seconds, "cpu_seconds": round(cpu, 1),
            "rss_mib": rss}


def _rate(result: dict[str, Any]) -> float:
    return float(result["events"] / result["seconds"])


async def bench(events: int, batch: int, counts: list[int]) -> dict[str, Any]:
    load_before = os.getloadavg()
    with broker() as kafka:
        started = time.perf_counter()
        topics, total = await publish(kafka, events)
        published = time.perf_counter() - started
        raw = run_raw(kafka, topics, batch)
        groups: dict[int, dict[str, Any]] = {}
        given = os.environ.get("EMINING_TEST_POSTGRES_URL")
        with contextlib.ExitStack() as stack:
            server = given or stack.enter_context(LocalPostgres(durable=True))
            for count in counts:
                groups[count] = await run_group(kafka, topics, await fresh_database(server),
                                                total, batch, count)
    base = groups[counts[0]]
    return {
        "events": total, "batch": batch, "publish_seconds": round(published, 2),
        "cores": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "raw_aiokafka_json": {"events_per_s": round(_rate(raw))},
        "views_postgresql": {
            str(count): {"processes": count, "events_per_s": round(_rate(r)),
                         "seconds": round(r["seconds"], 2), "cpu_seconds": r["cpu_seconds"],
                         "cpu_per_1k_events": round(r["cpu_seconds"] / r["events"] * 1000, 2),
                         "rss_mib": r["rss_mib"],
                         "ratio_to_raw": round(_rate(r) / _rate(raw), 4),
                         f"speedup_over_{counts[0]}": round(_rate(r) / _rate(base), 2)}
            for count, r in groups.items()},
    }


def summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for ``benchmarks.table``: each process count's rate against raw consume + JSON."""
    raw = report["raw_aiokafka_json"]["events_per_s"]
    return [row("scaleout", f"view sync, PostgreSQL, {key} process(es), "
                f"{report['events']:,} events", unit="events/s", rate=r["events_per_s"],
                raw=raw, rss_mb=round(max(r["rss_mib"]) * 1.048576, 1),
                rss_of="largest consumer", note=f"CPU {r['cpu_per_1k_events']} s per 1k events; "
                f"load {report['load_average_before'][0]}")
            for key, r in report["views_postgresql"].items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--processes", default="1,3",
                        help="process counts to measure, comma-separated (default 1,3)")
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    args = parser.parse_args()
    counts = [int(c) for c in args.processes.split(",") if c.strip()]
    if not counts or min(counts) < 1:
        parser.error("--processes: one or more positive counts, e.g. 1,3")
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        report = eventloop.run(bench(args.events, args.batch, counts))
    write_json_out(args.json_out, "scaleout", report, summary(report))
    if args.json:
        print_json(report)
        return
    print(f"{report['events']} events, batches of {report['batch']}, {report['cores']} cores, "
          f"load {report['load_average_before'][0]} → {report['load_average_after'][0]}")
    print(f"  raw aiokafka + JSON      {report['raw_aiokafka_json']['events_per_s']:>8} events/s")
    for key, r in report["views_postgresql"].items():
        speedup = next(v for k, v in r.items() if k.startswith("speedup_over_"))
        print(f"  views, {key} process(es)   {r['events_per_s']:>8} events/s   "
              f"views/raw {r['ratio_to_raw']:.1%}   {speedup}x over {counts[0]}   "
              f"CPU {r['cpu_seconds']} s ({r['cpu_per_1k_events']} s per 1k)   "
              f"RSS {r['rss_mib']} MiB")


if __name__ == "__main__":
    main()
