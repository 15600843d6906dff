"""Memory over a long run of the view consumer: ``--events`` events applied, RSS sampled as it goes.

    .venv/bin/python -m benchmarks.bench_views_soak [--events 1000000] [--chunk 50000]
        [--bootstrap HOST:PORT] [--json] [--json-out FILE]

Issue 18: "memory flat over a 1M-event run", for the view consumer (``bench_soak`` does the
SDK's publish path). Starts ``emining views run``'s consumer as ``bench_views`` does (its own
process, one verify worker, a fresh SQLite store, fresh 6-partition topics), then publishes the
views tests' scenario (``tests/integration/views/scenario.py``: projects, licences, approvals,
environmental clearances and shipments through their lifecycles, signed through the SDK) chunk
by chunk, each chunk new stories with subjects of their own. Once a chunk is applied (the
store's offsets at the topics' ends, and no record held, or ``HELD_WAIT_S`` passed: each sample
says how many partitions still held records) and the consumer has been idle ``SETTLE_S``, it
reads the resident set (``VmRSS``) of the consumer and of each of its children (the verify
worker). It reports the sum at the first sample, the middle and the end, the peaks (the sum of
each process's own ``VmHWM``, reached at different moments: an upper bound), and the slope of
the sum over the samples after the first tenth, as ``bench_soak`` does. Its table row checks
both of issue 18's bounds: the peak at most 250 MB, and "flat", the slope at most 1 MB per 100k
events. The broker: ``--bootstrap``, else ``EMINING_KAFKA_BOOTSTRAP``, else a throwaway one.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from benchmarks.bench_soak import FLAT_MB_PER_100K, WARM_UP, slope_mb_per_100k
from benchmarks.bench_views import create_topics, start_consumer
from benchmarks.output import (
    RSS_TARGET_MB,
    add_json_out,
    broker,
    exit_on_sigterm,
    live_children_peak_rss_mb,
    peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    rss_mb,
    stdout_to_stderr,
    write_json_out,
)
from consumers.config import ViewTopics
from consumers.store import ViewStore
from consumers.store_read import offsets_and_held
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from transport import eventloop
from transport.access import KafkaAccess
from transport.meta import partitions_of

STALL_S = 300.0
"""A chunk whose records stop being applied for this long fails the run."""
HELD_WAIT_S = 30.0
"""How long a chunk read to its end waits for its last held records to be applied."""
SETTLE_S = 3.0
"""How long the consumer is left idle before a sample: longer than ``transport.memory``'s
deferred trim (2 s after the last batch), so that a sample reads what the consumer keeps, not
what its last batch freed a moment before (the peaks inside batches are reported apart)."""


async def log_ends(kafka: KafkaAccess, topics: ViewTopics) -> dict[tuple[str, int], int]:
    """The end offset of every partition whose offsets the store keeps (the registry's topic
    is followed apart: ``consumers.registry_follower``)."""
    tps = [TopicPartition(t, p) for t in topics.consumed() for p in await partitions_of(kafka, t)]
    consumer = AIOKafkaConsumer(**kafka.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): end for tp, end in ends.items()}


async def applied(store: ViewStore, kafka: KafkaAccess, topics: ViewTopics,
                  consumer: asyncio.subprocess.Process) -> int:
    """Wait until the store's offsets reach the log's ends, then (up to ``HELD_WAIT_S``) until
    no record is held; returns the partitions still holding records (0 when all applied)."""
    ends = await log_ends(kafka, topics)
    last, moved, caught_up = -1, time.perf_counter(), None
    while True:
        if consumer.returncode is not None:
            raise RuntimeError(f"the view consumer exited with {consumer.returncode}")
        stored, held = await offsets_and_held(store)
        behind = sum(max(end - stored.get(tp, 0), 0) for tp, end in ends.items())
        now = time.perf_counter()
        if behind == 0:
            caught_up = caught_up or now
            if not held or now - caught_up > HELD_WAIT_S:
                return len(held)
        elif behind != last:
            last, moved = behind, now
        elif now - moved > STALL_S:
            raise TimeoutError(f"the consumer applied nothing for {STALL_S:g} s "
                               f"({behind} records behind)")
        await asyncio.sleep(0.2)


async def timeline_rows(store: ViewStore) -> int:
    """Events on the views' timeline: every event applied (a refused one is dead-lettered)."""
    async with store.reading() as (conn, tables):
        return int((await conn.execute(
            select(func.count()).select_from(tables.timeline))).scalar_one())


async def soak(kafka: KafkaAccess, events: int, chunk: int) -> dict[str, Any]:
    per_story = scenario.build(12).events / 12
    stories = max(1, round(events / per_story))
    per_chunk = max(1, round(chunk / per_story))
    topics = await create_topics(kafka)
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/views.db"
        process = await start_consumer(kafka, topics, url, 500)
        store = ViewStore(url)
        try:
            await store.open()
            async with Bus(kafka, topics, Path(tmp) / "chains") as bus:
                await bus.registry()
                started, published = time.perf_counter(), 0
                for first in range(0, stories, per_chunk):
                    part = scenario.Scenario([scenario.story(i) for i in
                                              range(first, min(first + per_chunk, stories))])
                    await bus.rounds(part.rounds())
                    published += part.events
                    held = await applied(store, kafka, topics, process)
                    await asyncio.sleep(SETTLE_S)
                    own = rss_mb(process.pid)
                    children = live_children_peak_rss_mb(process.pid, now=True)
                    workers = round(sum(children.values()), 1)
                    points.append({"events": published, "rss_mb": round(own + workers, 1),
                                   "consumer_mb": own, "children_mb": workers,
                                   "partitions_holding": held,
                                   "seconds": round(time.perf_counter() - started, 1)})
                elapsed = time.perf_counter() - started
            peak = peak_rss_mb(process.pid)
            children_peak = live_children_peak_rss_mb(process.pid)
            on_timeline = await timeline_rows(store)
        finally:
            try:
                if process.returncode is None:
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 60)
                except TimeoutError:
                    process.kill()  # its verify worker ends with it (it watches its parent)
                    await process.wait()
            finally:
                await store.close()
    after_warm = [(p["events"], p["rss_mb"]) for p in points if p["events"] >= WARM_UP * published]
    slope = slope_mb_per_100k(after_warm)
    middle = min(points, key=lambda p: abs(p["events"] - published / 2))
    return {
        "events": published, "stories": stories, "applied": on_timeline,
        "seconds": round(elapsed, 1),
        "events_per_s": round(published / elapsed),
        "rss_mb": {"start": points[0]["rss_mb"], "middle": middle["rss_mb"],
                   "end": points[-1]["rss_mb"],
                   "peak": round(peak + sum(children_peak.values()), 1),
                   "consumer_peak": peak, "children_peak": sorted(children_peak.values())},
        "slope_mb_per_100k_events": slope,
        "flat": slope is not None and slope <= FLAT_MB_PER_100K,
        "samples": points,
    }


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    rss = result["rss_mb"]
    return [row("views_soak", f"view sync (SQLite), memory over {result['events']:,} events",
                unit="events/s", rate=result["events_per_s"], rss_mb=rss["peak"],
                slope_mb_per_100k=result["slope_mb_per_100k_events"],
                rss_of="consumer + its verify worker",
                target={"max_rss_mb": RSS_TARGET_MB, "max_slope_mb_per_100k": FLAT_MB_PER_100K},
                note=f"RSS start {rss['start']} / middle {rss['middle']} / end {rss['end']} MB "
                     f"(the consumer with its children); slope "
                     f"{result['slope_mb_per_100k_events']} MB per 100k events after the first "
                     f"tenth ({'flat' if result['flat'] else 'not flat'}); rate: publishing "
                     "and applying each chunk in turn")]


async def run_on(bootstrap: str | None, events: int, chunk: int) -> dict[str, Any]:
    with broker(bootstrap) as kafka:
        return await soak(kafka, events, chunk)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000,
                        help="events published, then applied, between two samples")
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        result = eventloop.run(run_on(args.bootstrap, args.events, args.chunk))
    write_json_out(args.json_out, "views_soak", result, summary(result))
    if args.json:
        print_json(result)
        return
    rss = result["rss_mb"]
    print(f"{result['events']:,} events ({result['stories']:,} stories) published, "
          f"{result['applied']:,} applied, in {result['seconds']} s")
    print(f"RSS MB, the consumer with its children: start {rss['start']}, middle "
          f"{rss['middle']}, end {rss['end']}, peak {rss['peak']} (the consumer "
          f"{rss['consumer_peak']}, its children {rss['children_peak']}); slope "
          f"{result['slope_mb_per_100k_events']} MB per 100k events after the first tenth: "
          f"{'flat' if result['flat'] else 'not flat'}")
    for p in result["samples"]:
        print(f"  {p['events']:>9,} events  RSS {p['rss_mb']:7.1f} MB (consumer "
              f"{p['consumer_mb']}, children {p['children_mb']})  {p['seconds']} s")


if __name__ == "__main__":
    main()
