"""Publishing throughput: the SDK against raw aiokafka sending the same bytes, in the same run.

    .venv/bin/python -m benchmarks.bench_publish [--events 100000] [--bootstrap HOST:PORT] [--json]
        [--json-out FILE] [--profile FILE]

Both paths use the same producer settings (``transport.sender.producer_config``: idempotent,
acks=all, linger 5 ms) and keep many sends in flight. The SDK path does everything a publisher
does per event: chain link, Ed25519 signature over the canonical form, record encoding, the
outbox transaction, send, acknowledgement. The raw path sends the SDK's own records (same keys,
values and headers) with a bare ``AIOKafkaProducer`` built from the same ``producer_config`` (the
settings are in the result), in the same batches of 5,000 each awaited. Each writes to a fresh
6-partition topic. The broker: ``--bootstrap``, else ``EMINING_KAFKA_BOOTSTRAP``, else a throwaway
local one. The peak RSS is this process's: the SDK, the raw producer, and the benchmark's own
drafts and copies of every record (about 3 KB an event).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from benchmarks.output import (
    add_json_out,
    broker,
    exit_on_sigterm,
    own_peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    write_json_out,
)
from producers.publisher import Draft, Publisher
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.envelope import KafkaRecord
from schemas.signing import PrivateKey
from transport import eventloop
from transport.access import KafkaAccess
from transport.sender import producer_config

BATCH = 5_000
ORG = "urn:emining:cn:ent:bench-publisher"


def _drafts(topic: str, n: int) -> list[Draft]:
    """``n`` realistic production reports over 500 projects, routed to ``topic``."""
    base = model_for("pk.emining.project.production.reported")
    cls: type[EventData] = type("BenchProductionReported", (base,), {"TOPIC": topic})
    example = dict(base.EXAMPLE)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Draft(cls.model_validate({**example, "project_id": f"PRJ-BA-CHG-{i % 500 + 1:04d}"}),
              time=t0 + timedelta(seconds=i))
        for i in range(n)
    ]


async def _topic(kafka: KafkaAccess) -> str:
    name = f"bench.publish.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(**kafka.aiokafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 6, 1)])
    finally:
        await admin.close()
    return name


async def _sdk(
    kafka: KafkaAccess, drafts: list[Draft], state: Path, profile: Path | None = None
) -> tuple[float, float, list[KafkaRecord]]:
    key = PrivateKey.generate(ORG)
    sent: list[KafkaRecord] = []
    async with Publisher(kafka=kafka, key=key, source=f"{ORG}/bench", state_dir=state,
                         timeout_s=60) as pub:
        real_send = pub._sender.send  # noqa: SLF001 - capture the exact records for the raw run

        async def capture(records: Any, results: Any = None) -> Any:
            sent.extend(records)
            return await real_send(records, results)

        pub._sender.send = capture  # type: ignore[method-assign]  # noqa: SLF001
        profiler = cProfile.Profile() if profile else None
        cpu = time.process_time()
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        for i in range(0, len(drafts), BATCH):
            await pub.publish_many(drafts[i:i + BATCH])
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
    return elapsed, cpu, sent


async def _raw(
    kafka: KafkaAccess, records: list[KafkaRecord], topic: str
) -> tuple[float, float]:
    producer = AIOKafkaProducer(**producer_config(kafka, 60))
    await producer.start()
    try:
        cpu = time.process_time()
        start = time.perf_counter()
        for i in range(0, len(records), BATCH):
            futures = [await producer.send(topic, r.value, key=r.key, headers=r.headers)
                       for r in records[i:i + BATCH]]
            await asyncio.gather(*futures)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        await producer.stop()


async def run_on(bootstrap: str | None, n: int,
                 profile: Path | None = None) -> tuple[str, dict[str, Any]]:
    with broker(bootstrap) as kafka:
        return kafka.describe(), await run(kafka, n, profile)


async def run(kafka: KafkaAccess, n: int, profile: Path | None = None) -> dict[str, Any]:
    sdk_topic, raw_topic = await _topic(kafka), await _topic(kafka)
    drafts = _drafts(sdk_topic, n)
    with tempfile.TemporaryDirectory() as state:
        sdk_s, sdk_cpu, records = await _sdk(kafka, drafts, Path(state), profile)
    raw_s, raw_cpu = await _raw(kafka, records, raw_topic)
    value_bytes = sum(len(r.value) + sum(len(v) for _, v in r.headers) for r in records) / n
    return {
        "events": n, "mean_record_bytes": round(value_bytes),
        "sdk_events_per_s": round(n / sdk_s), "raw_aiokafka_events_per_s": round(n / raw_s),
        "sdk_to_raw_ratio": round(raw_s / sdk_s, 3), "sdk_seconds": round(sdk_s, 2),
        "raw_seconds": round(raw_s, 2),
        # CPU time of this process (the broker's not included): steadier than wall time on a
        # shared machine, and what an idle one would give if the broker had its own core.
        "sdk_cpu_us_per_event": round(sdk_cpu / n * 1e6, 1),
        "raw_cpu_us_per_event": round(raw_cpu / n * 1e6, 1),
        "cpu_ratio": round(raw_cpu / sdk_cpu, 3),
        "peak_rss_mb": own_peak_rss_mb(),
        "producer_settings": {k: v for k, v in producer_config(kafka, 60).items()
                              if k in {"enable_idempotence", "acks", "linger_ms",
                                       "max_batch_size", "compression_type"}},
    }


TARGET = {"min_rate": 15_000, "min_ratio": 0.5, "max_rss_mb": 250}


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``make bench``'s row: SDK events/s against raw aiokafka sending the same records."""
    return [row("publish", f"SDK publish, {result['events']:,} events", unit="events/s",
                rate=result["sdk_events_per_s"], raw=result["raw_aiokafka_events_per_s"],
                rss_mb=result["peak_rss_mb"], rss_of="benchmark process", target=TARGET,
                note=f"{result['mean_record_bytes']} B records, same producer settings; CPU per "
                     f"event SDK {result['sdk_cpu_us_per_event']} µs, raw "
                     f"{result['raw_cpu_us_per_event']} µs (ratio {result['cpu_ratio']})")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    parser.add_argument("--profile", type=Path, default=None, metavar="FILE",
                        help="cProfile the SDK's publishing into FILE (its rate is then lower);"
                             " `python -m benchmarks.profiles FILE` summarises it")
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        where, result = eventloop.run(run_on(args.bootstrap, args.events, args.profile))
    write_json_out(args.json_out, "publish", result, summary(result))
    if args.json:
        print_json(result)
        return
    table = Table("measure", "value", title=f"publish {args.events:,} events, {where}")
    for k, v in result.items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    Console().print(table)


if __name__ == "__main__":
    main()
