"""Audit throughput: publish a realistic log through the SDK, then time verify and replay.

    .venv/bin/python -m benchmarks.bench_audit --bootstrap 127.0.0.1:9092 [--events 200000]
        [--state /tmp/bench-audit] [--reuse] [--workers 2] [--json]

Publishes ``--events`` (about; whole projects) scenario events from a dozen sources to a topic
set of its own (``bench.audit.<tag>.*``, 6 partitions like the catalogue), unless ``--reuse``
finds the previous run's topics and keys in ``--state``. Then runs ``audit verify`` over them
(every signature, key, authority, chain) and ``audit replay`` (the views rebuilt into a scratch
SQLite store). Reports wall-clock events/s and CPU seconds: the machine may be shared, and CPU
time says what an idle machine would do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.output import print_json, quiet_logging, stdout_to_stderr
from consumers.audit.records import AuditTopics
from consumers.audit.replay import replay
from consumers.audit.verify import verify_log
from infra.kafka_client import kafka_access
from infra.settings import Settings
from producers.connection import KafkaAccess
from schemas.signing import PrivateKey, b64, unb64
from tests.integration.audit.bus import Bus
from tests.unit.audit.parties import Parties
from tests.unit.audit.scenario import story

EVENTS_PER_PROJECT = 21.9
"""Measured mean of the scenario (see ``tests/unit/audit/scenario.py``)."""


def _topics(tag: str) -> AuditTopics:
    return AuditTopics(projects=f"bench.audit.{tag}.projects",
                       approvals=f"bench.audit.{tag}.approvals",
                       shipments=f"bench.audit.{tag}.shipments",
                       participants=f"bench.audit.{tag}.participants")


async def _create(kafka: KafkaAccess, topics: AuditTopics) -> None:
    admin = AIOKafkaAdminClient(**kafka.aiokafka(), request_timeout_ms=30_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 6, 1) for t in topics.shared]
                                  + [NewTopic(topics.participants, 1, 1)])
    finally:
        await admin.close()


async def publish(kafka: KafkaAccess, events: int, state: Path) -> tuple[AuditTopics, Parties, int]:
    tag = uuid.uuid4().hex[:8]
    topics = _topics(tag)
    parties = Parties.generate()
    await _create(kafka, topics)
    steps = story(round(events / EVENTS_PER_PROJECT))
    started = time.perf_counter()
    async with Bus(kafka, topics, parties, state / tag) as bus:
        await bus.registry()
        results = await bus.steps(steps, window=20_000)
    seconds = time.perf_counter() - started
    print(f"published {len(results)} events in {seconds:.1f}s", file=sys.stderr)
    keys = {org: b64(k.seed) for org, k in parties.keys.items()}
    (state / "bench.json").write_text(json.dumps({"tag": tag, "keys": keys,
                                                  "events": len(results)}))
    return topics, parties, len(results)


def _reused(state: Path) -> tuple[AuditTopics, Parties, int]:
    doc = json.loads((state / "bench.json").read_text())
    keys = {org: PrivateKey(org, unb64(seed, what="seed")) for org, seed in doc["keys"].items()}
    return _topics(doc["tag"]), Parties(keys=keys), int(doc["events"])


async def run(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    kafka = kafka_access(Settings(kafka_bootstrap=args.bootstrap))  # credential: EMINING_KAFKA_*
    if args.reuse and (state / "bench.json").exists():
        topics, parties, events = _reused(state)
    else:
        topics, parties, events = await publish(kafka, args.events, state)
    result: dict[str, Any] = {"events": events, "cpus": os.cpu_count(),
                              "topics": list(topics.all)}
    report = await verify_log(kafka, parties.trust_anchor, topics=topics,
                              workers=args.workers, timeout_s=30.0)
    result["verify"] = {
        "records": report.records, "seconds": round(report.seconds, 2),
        "events_per_s": round(report.rate), "ok": report.ok, "findings": len(report.findings),
        "cpu_seconds": round(report.cpu_seconds, 2),
        "events_per_cpu_s": round(report.records / report.cpu_seconds),
    }
    if not args.skip_replay:
        with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder:
            cpu = time.process_time()
            replayed = await replay(kafka, parties.trust_anchor,
                                    f"sqlite:///{Path(folder) / 'views.sqlite'}",
                                    topics=topics, timeout_s=30.0)
            cpu = time.process_time() - cpu
        result["replay"] = {
            "records": replayed.records, "applied": replayed.applied,
            "rejected": replayed.rejected, "seconds": round(replayed.seconds, 2),
            "events_per_s": round(replayed.records / replayed.seconds),
            "cpu_seconds": round(cpu, 2), "digest": replayed.digest.sha256,
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("EMINING_KAFKA_BOOTSTRAP"),
                        required="EMINING_KAFKA_BOOTSTRAP" not in os.environ)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--state", default="/tmp/bench-audit")
    parser.add_argument("--reuse", action="store_true", help="audit the previous run's log")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--skip-replay", action="store_true", help="time verify only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_logging()
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    with stdout_to_stderr():
        result = asyncio.run(run(args, state))
    if args.json:
        print_json(result)
        return
    for name, value in result.items():
        print(f"{name:8} {value}")


if __name__ == "__main__":
    main()
