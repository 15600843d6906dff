"""What the checkpointer costs: publish and view-sync throughput with and without it running.

    nice -n 10 .venv/bin/python -m benchmarks.bench_checkpoints [--events 20000] [--rounds 2]
        [--every-seconds 1] [--checkpointer-nice 10] [--json] [--json-out FILE]

Same run, same broker. Each round measures, in alternating order (without, with, then with,
without, so that a drift of the shared machine does not favour one side):
- publish: the SDK publishing ``--events`` production reports (signed, chained, outbox) to a
  fresh 6-partition topic, alone, and while a checkpointer (``consumers.checkpoints``, its own
  process, as ``emining checkpoint run``) follows that topic and publishes signed heads every
  ``--every-seconds`` (default 1 s: ten times as often as the service's default);
- view sync: ``emining views run``'s consumer (SQLite) building the views of a realistic
  history of ``--events`` events from offset 0, alone, and while a fresh checkpointer catches
  up on the same topics from offset 0 at the same time.
The overhead is ``1 - with / without`` of the summed rates of all rounds; the target is at
most 5 %. On a shared machine the wall-clock rates are noisy, so the CPU each side spends is
reported too: the checkpointer's CPU seconds per record against the publisher's (the SDK
process) and the view consumer's per event, which is the share of a core it takes away from
them where cores are scarce. The checkpointer runs niced by ``--checkpointer-nice`` on top of
the benchmark's own niceness (10, as ``emining checkpoint run``'s default ``--nice``; 0 to
compete on equal terms). How far behind its checkpoints are is reported too: while publishing,
for each batch the SDK published, the seconds until a published head covered it (mean and
max), and after the last batch how long until the heads covered every record (the benchmark
waits for that before stopping the checkpointer); while the views sync, the seconds the
checkpointer took to catch up on the whole history (its first heads), against the view sync's.
Uses ``EMINING_KAFKA_BOOTSTRAP`` or starts a throwaway broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.bench_publish import BATCH, _drafts
from benchmarks.bench_views import ROOT
from benchmarks.bench_views import publish as publish_history
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
from consumers.checkpoints.checkpointer import Checkpointer
from consumers.config import ViewTopics
from consumers.store import ViewStore
from consumers.store_read import offsets
from infra.kafka_settings import kafka_access
from infra.settings import Settings
from producers.publisher import Publisher
from schemas.signing import PrivateKey
from tests.integration.views.conftest import config_for
from tests.integration.views.consumer_main import encode
from tests.kafka_support import access_env
from transport import eventloop
from transport.access import KafkaAccess
from transport.sender import RecordSender

PLATFORM = "urn:emining:xx:platform:operator"
ORG = "urn:emining:cn:ent:bench-publisher"
TARGET = 0.05


async def _topics(kafka: KafkaAccess, names: list[str], partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(**kafka.aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def _cpu_of(pid: int) -> float:
    """CPU seconds (user and system) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Heads = list[tuple[float, int]]
"""``(unix time, records covered)`` each time the checkpointer published heads."""


@contextlib.asynccontextmanager
async def checkpointer(kafka: KafkaAccess, topics: list[str], every_seconds: float,
                       cost: dict[str, float], nice: int) -> AsyncIterator[Heads]:
    """A checkpointer in its own process following ``topics`` until the block ends, niced by
    ``nice``; yields its heads as they are published; ``cost`` gets its CPU seconds, the
    records it appended to its trees and its niceness."""
    tag = uuid.uuid4().hex[:10]
    own = [f"bench.ckpt.{tag}.checkpoints", f"bench.ckpt.{tag}.refusals"]
    await _topics(kafka, own)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_checkpoints", "--checkpointer",
        "--every-seconds", str(every_seconds), "--checkpointer-nice", str(nice), *own, *topics,
        cwd=ROOT, env={**os.environ, **access_env(kafka)}, stdout=subprocess.PIPE)
    heads: Heads = []
    assert process.stdout is not None
    stdout = process.stdout

    async def read() -> None:
        while line := await stdout.readline():
            if line.startswith(b"head "):
                _, when, size = line.split()
                heads.append((float(when), int(size)))
            else:
                cost.update(json.loads(line))

    reader: asyncio.Task[None] | None = None
    try:
        ready = await asyncio.wait_for(stdout.readline(), 120)
        assert ready == b"running\n", ready  # imported, about to read the logs
        reader = asyncio.create_task(read())
        yield heads
    finally:
        process.send_signal(signal.SIGTERM)
        if reader is not None:
            await asyncio.wait_for(reader, 60)
        await asyncio.wait_for(process.wait(), 60)


async def covered(heads: Heads, records: int, timeout_s: float = 600.0) -> float:
    """The unix time of the first head covering ``records`` (waits for it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for when, size in heads:
            if size >= records:
                return when
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the checkpointer did not cover {records} records in {timeout_s:g} s")


class _TimedCheckpointer(Checkpointer):
    """Writes ``head <unix time> <records covered>`` to stdout after each publish."""

    async def publish(self, sender: RecordSender) -> int:
        done = await super().publish(sender)
        if done:
            total = sum(head.size for head in self.published.values())
            sys.stdout.write(f"head {time.time():.3f} {total}\n")
            sys.stdout.flush()
        return done


async def run_checkpointer(kafka: KafkaAccess, checkpoints: str, refusals: str,
                           topics: list[str], every_seconds: float, nice: int) -> None:
    """The child process: ``emining checkpoint run --nice N`` on the benchmark's topics until
    SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    niceness = os.nice(nice)
    worker = _TimedCheckpointer(kafka, PrivateKey.generate(PLATFORM), topics=topics,
                                checkpoints_topic=checkpoints, refusals_topic=refusals,
                                every_seconds=every_seconds, every_records=100_000,
                                timeout_s=60.0)
    sys.stdout.write("running\n")
    sys.stdout.flush()
    cpu = time.process_time()
    await worker.run(stop=stop)
    records = sum(one.tree.size for one in worker.logs.values())
    sys.stdout.write(json.dumps({"cpu_s": time.process_time() - cpu, "records": records,
                                 "nice": niceness}) + "\n")


Measured = tuple[float, float, dict[str, float]]
"""Events/s, the measured side's CPU seconds per event, the checkpointer's cost (empty without
one)."""


async def publish_rate(kafka: KafkaAccess, events: int, every_seconds: float | None,
                       nice: int = 10) -> Measured:
    """The SDK publishing ``events`` to a fresh topic (with a checkpointer following it); the
    checkpointer's cost gets ``lag_mean_s``/``lag_max_s`` (per published batch, the seconds
    until a head covered it) and ``caught_up_s`` (after the last batch, until one covered
    all)."""
    topic = f"bench.ckpt.{uuid.uuid4().hex[:10]}.projects"
    await _topics(kafka, [topic], 6)
    drafts = _drafts(topic, events)
    cost: dict[str, float] = {}
    sent: list[tuple[float, int]] = []
    heads: Heads | None = None
    async with contextlib.AsyncExitStack() as stack:
        if every_seconds is not None:
            heads = await stack.enter_async_context(
                checkpointer(kafka, [topic], every_seconds, cost, nice))
        with tempfile.TemporaryDirectory() as state:
            async with Publisher(kafka=kafka, key=PrivateKey.generate(ORG),
                                 source=f"{ORG}/bench", state_dir=Path(state),
                                 timeout_s=60) as pub:
                start, cpu = time.perf_counter(), time.process_time()
                for i in range(0, len(drafts), BATCH):
                    await pub.publish_many(drafts[i:i + BATCH])
                    sent.append((time.time(), min(i + BATCH, len(drafts))))
                seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        if heads is not None:
            lags = [await covered(heads, n) - when for when, n in sent]
            cost.update(lag_mean_s=sum(lags) / len(lags), lag_max_s=max(lags),
                        caught_up_s=lags[-1])
    return events / seconds, cpu / events, cost


async def views_rate(kafka: KafkaAccess, history: ViewTopics, total: int, batch: int,
                     every_seconds: float | None, nice: int = 10) -> Measured:
    """The view consumer (SQLite) from offset 0, with a checkpointer catching up meanwhile;
    the checkpointer's cost gets ``catch_up_s`` (from its start to its first heads, over the
    whole history) and ``sync_s`` (the view consumer's, from the same start)."""
    cost: dict[str, float] = {}
    async with contextlib.AsyncExitStack() as stack:
        heads: Heads | None = None
        if every_seconds is not None:
            heads = await stack.enter_async_context(checkpointer(
                kafka, [*history.consumed(), history.participants], every_seconds, cost, nice))
        began = time.time()
        with tempfile.TemporaryDirectory() as tmp:
            rate, cpu = await sync_views(kafka, history, f"sqlite:///{tmp}/views.db", total,
                                         batch)
        if heads is not None:
            cost.update(sync_s=time.time() - began,
                        catch_up_s=await covered(heads, 1) - began)
    return rate, cpu, cost


async def sync_views(kafka: KafkaAccess, topics: ViewTopics, url: str, total: int,
                     batch: int) -> tuple[float, float]:
    """``bench_views.run_views``, also reporting the consumer process's CPU seconds."""
    config = config_for(kafka, topics, url, batch_size=batch)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.views.consumer_main", encode(config),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = ViewStore(url)
    try:
        await store.open()
        start_at, start_count, cpu_at, done = None, 0, 0.0, 0
        while done < total:
            done = sum((await offsets(store)).values())
            if start_at is None and done:
                start_at, start_count, cpu_at = time.perf_counter(), done, _cpu_of(process.pid)
            await asyncio.sleep(0.05)
        assert start_at is not None
        seconds, cpu = time.perf_counter() - start_at, _cpu_of(process.pid) - cpu_at
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
        await store.close()
    return (done - start_count) / seconds, cpu / max(done - start_count, 1)


async def bench(events: int, rounds: int, batch: int, every_seconds: float,
                nice: int = 10) -> dict[str, Any]:
    with broker() as kafka:
        history, total = await publish_history(kafka, events)
        runs: dict[str, dict[str, list[Measured]]] = {
            "publish": {"without": [], "with": []}, "view_sync": {"without": [], "with": []}}
        for n in range(rounds):
            order = ("without", "with") if n % 2 == 0 else ("with", "without")
            for side in order:
                every = every_seconds if side == "with" else None
                runs["publish"][side].append(await publish_rate(kafka, events, every, nice))
                runs["view_sync"][side].append(
                    await views_rate(kafka, history, total, batch, every, nice))
    out: dict[str, Any] = {"events": events, "rounds": rounds, "every_seconds": every_seconds,
                           "checkpointer_nice": nice, "bench_nice": os.nice(0),
                           "target_overhead": TARGET, "cpus": os.cpu_count(),
                           "load_average": [round(x, 1) for x in os.getloadavg()]}
    for name, sides in runs.items():
        without = sum(r for r, _, _ in sides["without"])
        with_ = sum(r for r, _, _ in sides["with"])
        both = sides["with"] + sides["without"]
        own = sum(c for _, c, _ in both) / len(both)
        ck_cpu = sum(k.get("cpu_s", 0.0) for _, _, k in sides["with"])
        ck_records = sum(k.get("records", 0.0) for _, _, k in sides["with"])
        out[name] = {
            "without_events_per_s": [round(r) for r, _, _ in sides["without"]],
            "with_events_per_s": [round(r) for r, _, _ in sides["with"]],
            "ratio": round(with_ / without, 4),
            "overhead": round(1 - with_ / without, 4),
            "cpu_us_per_event": round(own * 1e6, 1),
            "checkpointer_cpu_us_per_record": round(ck_cpu / max(ck_records, 1) * 1e6, 1),
            "checkpointer_records": int(ck_records),
            "cpu_share": round(ck_cpu / max(ck_records, 1) / own, 4),
            "checkpointer_niceness": [k.get("nice") for _, _, k in sides["with"]],
        }
        lag_keys = (("lag_mean_s", "lag_max_s", "caught_up_s") if name == "publish"
                    else ("catch_up_s", "sync_s"))
        for key in lag_keys:
            out[name][key] = [round(k[key], 2) for _, _, k in sides["with"]]
    return out


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows ``make bench`` tabulates: each rate with the checkpointer, against the rate
    without it in the same run (``raw``), the target a ratio of at least 0.95."""
    out = []
    for name, what in (("publish", "SDK publish"), ("view_sync", "view sync (SQLite)")):
        r = report[name]
        out.append(row(
            "checkpoints", f"{what} with a checkpointer beside it", unit="events/s",
            rate=sum(r["with_events_per_s"]) / len(r["with_events_per_s"]),
            raw=sum(r["without_events_per_s"]) / len(r["without_events_per_s"]),
            target={"min_ratio": 1 - TARGET},
            note=f"raw: the same without it; checkpointer CPU {r['cpu_share']:.0%} of the "
                 "measured side's per event"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--every-seconds", type=float, default=1.0)
    parser.add_argument("--checkpointer-nice", type=int, default=10,
                        help="niceness the checkpointer adds to its own (0: none)")
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    parser.add_argument("--checkpointer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("topics", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    if args.checkpointer:  # the child: checkpoints topic, refusals topic, then the logs
        checkpoints, refusals, *logs = args.topics  # stdout: "running" once started
        eventloop.run(run_checkpointer(kafka_access(Settings()), checkpoints, refusals, logs,
                                     args.every_seconds, args.checkpointer_nice))
        return
    with stdout_to_stderr():
        report = eventloop.run(bench(args.events, args.rounds, args.batch, args.every_seconds,
                                   args.checkpointer_nice))
    write_json_out(args.json_out, "checkpoints", report, summary_rows(report))
    if args.json:
        print_json(report)
        return
    print(f"{report['events']} events, {report['rounds']} rounds, checkpoints every "
          f"{report['every_seconds']:g} s; {report['cpus']} CPUs, load {report['load_average']};"
          f" benchmark nice {report['bench_nice']}, checkpointer +{report['checkpointer_nice']}")
    for name in ("publish", "view_sync"):
        r = report[name]
        print(f"  {name:10} without {r['without_events_per_s']} events/s, with "
              f"{r['with_events_per_s']}: ratio {r['ratio']:.3f}, overhead {r['overhead']:.1%}"
              f" (target <= {TARGET:.0%})")
        print(f"  {'':10} CPU {r['cpu_us_per_event']} us/event; the checkpointer "
              f"{r['checkpointer_cpu_us_per_record']} us/record ({r['checkpointer_records']} "
              f"records): {r['cpu_share']:.1%} of it")
        if name == "publish":
            print(f"  {'':10} checkpoint lag behind the publisher: mean {r['lag_mean_s']} s, "
                  f"max {r['lag_max_s']} s; all covered {r['caught_up_s']} s after the last "
                  "batch")
        else:
            print(f"  {'':10} checkpointer caught up on the history in {r['catch_up_s']} s "
                  f"(view sync with it: {r['sync_s']} s)")


if __name__ == "__main__":
    main()
