"""Publishing throughput: the SDK against raw aiokafka sending the same bytes, in the same run.

    .venv/bin/python -m benchmarks.bench_publish [--events 100000] [--bootstrap HOST:PORT] [--json]

Both paths use the same producer settings (``producers.sender.producer_config``: idempotent,
acks=all, linger 5 ms) and keep many sends in flight. The SDK path does everything a publisher
does per event: chain link, Ed25519 signature over the canonical form, record encoding, the
outbox transaction, send, acknowledgement. The raw path sends the SDK's own records (same keys,
values and headers) with a bare ``AIOKafkaProducer``. Each writes to a fresh 6-partition topic.
"""

from __future__ import annotations

import argparse
import asyncio
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

from benchmarks.output import print_json, quiet_logging, stdout_to_stderr
from infra.kafka_client import kafka_access
from infra.settings import Settings
from producers.connection import KafkaAccess
from producers.publisher import Draft, Publisher
from producers.sender import producer_config
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.envelope import KafkaRecord
from schemas.signing import PrivateKey

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
    kafka: KafkaAccess, drafts: list[Draft], state: Path
) -> tuple[float, list[KafkaRecord]]:
    key = PrivateKey.generate(ORG)
    sent: list[KafkaRecord] = []
    async with Publisher(kafka=kafka, key=key, source=f"{ORG}/bench", state_dir=state,
                         timeout_s=60) as pub:
        real_send = pub._sender.send  # noqa: SLF001 - capture the exact records for the raw run

        async def capture(records: Any) -> Any:
            sent.extend(records)
            return await real_send(records)

        pub._sender.send = capture  # type: ignore[method-assign]  # noqa: SLF001
        start = time.perf_counter()
        for i in range(0, len(drafts), BATCH):
            await pub.publish_many(drafts[i:i + BATCH])
        elapsed = time.perf_counter() - start
    return elapsed, sent


async def _raw(kafka: KafkaAccess, records: list[KafkaRecord], topic: str) -> float:
    producer = AIOKafkaProducer(**producer_config(kafka, 60))
    await producer.start()
    try:
        start = time.perf_counter()
        for i in range(0, len(records), BATCH):
            futures = [await producer.send(topic, r.value, key=r.key, headers=r.headers)
                       for r in records[i:i + BATCH]]
            await asyncio.gather(*futures)
        return time.perf_counter() - start
    finally:
        await producer.stop()


async def run(kafka: KafkaAccess, n: int) -> dict[str, Any]:
    sdk_topic, raw_topic = await _topic(kafka), await _topic(kafka)
    drafts = _drafts(sdk_topic, n)
    with tempfile.TemporaryDirectory() as state:
        sdk_s, records = await _sdk(kafka, drafts, Path(state))
    raw_s = await _raw(kafka, records, raw_topic)
    value_bytes = sum(len(r.value) + sum(len(v) for _, v in r.headers) for r in records) / n
    return {
        "events": n, "mean_record_bytes": round(value_bytes),
        "sdk_events_per_s": round(n / sdk_s), "raw_aiokafka_events_per_s": round(n / raw_s),
        "sdk_to_raw_ratio": round(raw_s / sdk_s, 3), "sdk_seconds": round(sdk_s, 2),
        "raw_seconds": round(raw_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logging()
    kafka = kafka_access(Settings(kafka_bootstrap=args.bootstrap) if args.bootstrap else Settings())
    with stdout_to_stderr():
        result = asyncio.run(run(kafka, args.events))
    if args.json:
        print_json(result)
        return
    table = Table("measure", "value", title=f"publish {args.events:,} events, {kafka.describe()}")
    for k, v in result.items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    Console().print(table)


if __name__ == "__main__":
    main()
