"""View-sync events/s on SQLite and PostgreSQL against raw aiokafka consuming the same topics.

    .venv/bin/python -m benchmarks.bench_views [--events 50000] [--batch 500] [--json]
        [--json-out FILE] [--profile DIR] [--sql]

Publishes a realistic history once (the views tests' scenario, signed through the SDK) to fresh
topics, then, each in its own process so that the memory figures are its own:
- raw: aiokafka reading every record and ``json.loads``-ing its value, nothing else;
- views on SQLite and on PostgreSQL: ``consumers.runner.run_views`` (``emining views run``):
  verification, fold, dead letters and the store transaction with offsets.
Rates are timed from the first record applied to the last. Uses ``EMINING_KAFKA_BOOTSTRAP`` or
starts a throwaway broker; PostgreSQL comes from ``EMINING_TEST_POSTGRES_URL`` or a throwaway
cluster (fsync on, ``synchronous_commit=on``: every batch commit is durable; SQLite runs WAL
with ``synchronous=NORMAL``). ``--sql`` also times each consumer's statements and commits
(``benchmarks.views_sql_trace``): how much of its thread the database's own work takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks import views_sql_trace
from benchmarks.output import (
    add_json_out,
    broker,
    cpu_seconds,
    exit_on_sigterm,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    workers_peak_rss_mb,
    write_json_out,
)
from consumers.config import ViewTopics
from consumers.store import ViewStore
from consumers.store_read import offsets
from infra.kafka_settings import kafka_access
from infra.local_postgres import LocalPostgres
from infra.settings import Settings
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from tests.integration.views.conftest import config_for, fresh_database
from tests.integration.views.consumer_main import encode
from tests.kafka_support import access_env
from transport import eventloop
from transport.access import KafkaAccess
from transport.meta import partitions_of

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 6
VERIFY_WORKERS = int(os.environ.get("EMINING_VIEWS_VERIFY_WORKERS", "1"))
"""As ``emining views run``: one worker verifies ahead (``consumers.pipeline``); 0: in-process."""


def _rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0])
    return fields


async def create_topics(kafka: KafkaAccess) -> ViewTopics:
    """Fresh topics for the views: ``PARTITIONS`` each, the registry's one."""
    tag = uuid.uuid4().hex[:10]
    topics = ViewTopics(**{n: f"bench.views.{tag}.{n}" for n in (
        "projects", "approvals", "shipments", "participants", "dlq")})
    admin = AIOKafkaAdminClient(**kafka.aiokafka())
    await admin.start()
    try:
        await admin.create_topics([
            NewTopic(t, 1 if t == topics.participants else PARTITIONS, 1)
            for t in (topics.projects, topics.approvals, topics.shipments, topics.participants,
                      topics.dlq)])
    finally:
        await admin.close()
    return topics


async def publish(kafka: KafkaAccess, events: int) -> tuple[ViewTopics, int]:
    topics = await create_topics(kafka)
    history = scenario.build(scenario.stories_for(events))
    async with Bus(kafka, topics, Path(tempfile.mkdtemp()) / "chains") as bus:
        await bus.registry()
        await bus.rounds(history.rounds())
    return topics, history.events


async def raw_consume(kafka: KafkaAccess, topics: list[str], batch: int) -> dict[str, Any]:
    """The baseline, run in its own process: read every record and decode its JSON value."""
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in await partitions_of(kafka, t)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        total, first = 0, None
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=500, max_records=batch)).values():
                first = first or time.perf_counter()
                for record in records:
                    json.loads(record.value)
                total += len(records)
        seconds = time.perf_counter() - (first or time.perf_counter())
    finally:
        await consumer.stop()
    return {"events": total, "seconds": seconds, **_rss_kib(os.getpid())}


def run_raw(kafka: KafkaAccess, topics: ViewTopics, batch: int) -> dict[str, Any]:
    """``raw_consume`` in a child process; the broker and credential go by environment."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_views", "--raw-consumer",
         "--batch", str(batch), *topics.consumed()],
        cwd=ROOT, capture_output=True, text=True, check=True,
        env={**os.environ, **access_env(kafka)})
    return dict(json.loads(out.stdout))


async def start_consumer(kafka: KafkaAccess, topics: ViewTopics, url: str, batch: int,
                         profile: Path | None = None,
                         sql_trace: Path | None = None) -> asyncio.subprocess.Process:
    """``emining views run``'s consumer (``VERIFY_WORKERS`` verify workers) in a process of
    its own; under cProfile writing ``profile`` (at SIGTERM, which it ends on cleanly); with
    its SQL timed into ``sql_trace`` (``benchmarks.views_sql_trace``)."""
    config = config_for(kafka, topics, url, batch_size=batch, verify_workers=VERIFY_WORKERS)
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    module = (["benchmarks.views_sql_trace", encode(config), str(sql_trace)] if sql_trace
              else ["tests.integration.views.consumer_main", encode(config)])
    return await asyncio.create_subprocess_exec(
        sys.executable, *profiler, "-m", *module,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def run_views(kafka: KafkaAccess, topics: ViewTopics, url: str, total: int,
                    batch: int, profile: Path | None = None,
                    sql_trace: Path | None = None) -> dict[str, Any]:
    """The consumer (``start_consumer``) timed by the store's offsets; with ``sql_trace``, the
    time of its SQL too (``sql``: ``views_sql_trace.summary`` over every event it applied)."""
    process = await start_consumer(kafka, topics, url, batch, profile, sql_trace)
    store = ViewStore(url)
    try:
        await store.open()
        start_at, start_count, done, start_cpu = None, 0, 0, 0.0
        while done < total:
            done = sum((await offsets(store)).values())
            if start_at is None and done:
                start_at, start_count = time.perf_counter(), done
                start_cpu = cpu_seconds(process.pid)
            await asyncio.sleep(0.05)
        assert start_at is not None
        seconds = time.perf_counter() - start_at
        cpu = cpu_seconds(process.pid) - start_cpu  # the consumer's own, not its worker's
        memory = {**_rss_kib(process.pid), "workers_mb": workers_peak_rss_mb(process.pid)}
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
        await store.close()
    sql = ({"sql": views_sql_trace.summary(views_sql_trace.read(sql_trace), done)}
           if sql_trace is not None else {})
    return {"events": done - start_count, "seconds": seconds,
            "cpu_us_per_event": round(cpu / max(done - start_count, 1) * 1e6, 1), **memory,
            **sql}


def _rate(result: dict[str, Any]) -> float:
    return float(result["events"] / result["seconds"])


async def bench(events: int, batch: int, profile: Path | None = None,
                sql: bool = False) -> dict[str, Any]:
    with broker() as kafka, tempfile.TemporaryDirectory() as traces:
        started = time.perf_counter()
        topics, total = await publish(kafka, events)
        published = time.perf_counter() - started
        raw = run_raw(kafka, topics, batch)
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = await run_views(kafka, topics, f"sqlite:///{tmp}/views.db", total, batch,
                                     profile and profile / "views_sqlite.prof",
                                     Path(traces, "sqlite.json") if sql else None)
        given = os.environ.get("EMINING_TEST_POSTGRES_URL")
        with contextlib.ExitStack() as stack:
            server = given or stack.enter_context(LocalPostgres(durable=True))
            postgres = await run_views(kafka, topics, await fresh_database(server), total,
                                       batch, profile and profile / "views_postgresql.prof",
                                       Path(traces, "postgresql.json") if sql else None)
    results = {"raw_aiokafka_json": raw, "views_sqlite": sqlite, "views_postgresql": postgres}
    return {
        "events": total, "batch": batch, "publish_seconds": round(published, 2),
        **{name: {"events_per_s": round(_rate(r)), "rss_mib": round(r["VmRSS"] / 1024, 1),
                  "peak_rss_mib": round(r["VmHWM"] / 1024, 1),
                  "workers_peak_rss_mb": r.get("workers_mb", 0.0),
                  **({"cpu_us_per_event": r["cpu_us_per_event"]}
                     if "cpu_us_per_event" in r else {}),
                  **({"sql": r["sql"]} if "sql" in r else {})}
           for name, r in results.items()},
        "verify_workers": VERIFY_WORKERS,
        "ratio_sqlite_to_raw": round(_rate(sqlite) / _rate(raw), 4),
        "ratio_postgresql_to_raw": round(_rate(postgres) / _rate(raw), 4),
    }


TARGET = {"min_rate": 10_000, "max_rss_mb": 250}


def summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    """``make bench``'s rows: each store's rate against raw consume + JSON, its consumer's RSS."""
    raw = report["raw_aiokafka_json"]["events_per_s"]
    return [row("views", f"view sync, {label}, {report['events']:,} events", unit="events/s",
                rate=report[key]["events_per_s"], raw=raw,
                rss_mb=round(report[key]["peak_rss_mib"] * 1.048576
                              + report[key].get("workers_peak_rss_mb", 0.0), 1),
                rss_of="consumer + its verify worker" if report.get("verify_workers")
                else "consumer",
                target=TARGET, note="raw: aiokafka consume + json.loads; verify worker processes: "
                f"{report.get('verify_workers', 0)}; consumer CPU "
                f"{report[key].get('cpu_us_per_event', '?')} µs per event")
            for key, label in (("views_sqlite", "SQLite"), ("views_postgresql", "PostgreSQL"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run each view consumer under cProfile, dumps in DIR (rates lower);"
                             " `python -m benchmarks.profiles DIR/views_sqlite.prof`")
    parser.add_argument("--sql", action="store_true",
                        help="time each consumer's SQL statements and commits"
                             " (benchmarks.views_sql_trace): `sql` in each store's result")
    parser.add_argument("--raw-consumer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("topics", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    if args.raw_consumer:  # the child process: its stdout is the parent's pipe
        kafka = kafka_access(Settings())
        with stdout_to_stderr():
            measured = eventloop.run(raw_consume(kafka, args.topics, args.batch))
        print(json.dumps(measured))
        return
    with stdout_to_stderr():
        profile = args.profile and args.profile.resolve()  # the consumer runs in ROOT
        if profile:
            profile.mkdir(parents=True, exist_ok=True)
        report = eventloop.run(bench(args.events, args.batch, profile, args.sql))
    write_json_out(args.json_out, "views", report, summary(report))
    if args.json:
        print_json(report)
        return
    print(f"{report['events']} events, batches of {report['batch']}")
    for name in ("raw_aiokafka_json", "views_sqlite", "views_postgresql"):
        r = report[name]
        print(f"  {name:18} {r['events_per_s']:>8} events/s   RSS {r['rss_mib']} MiB "
              f"(peak {r['peak_rss_mib']} MiB)")
    print(f"  views/raw: SQLite {report['ratio_sqlite_to_raw']:.1%}, "
          f"PostgreSQL {report['ratio_postgresql_to_raw']:.1%}")


if __name__ == "__main__":
    main()
