"""Audit throughput: publish a realistic log through the SDK, then time verify and replay.

    .venv/bin/python -m benchmarks.bench_audit [--events 200000] [--bootstrap HOST:PORT]
        [--state /tmp/bench-audit] [--reuse] [--workers 2] [--json] [--json-out FILE]

Publishes ``--events`` (about; whole projects) scenario events from a dozen sources to a topic
set of its own (``bench.audit.<tag>.*``, 6 partitions like the catalogue), unless ``--reuse``
finds the previous run's topics and keys in ``--state``. Then runs ``audit verify`` over them
(every signature, key, authority, chain) and ``audit replay`` (the views rebuilt into a scratch
SQLite store), and, as the baseline, raw aiokafka reading the same topics and ``json.loads``-ing
each value (``bench_views.raw_consume``). Reports wall-clock events/s and CPU seconds: the
machine may be shared, and CPU time says what an idle machine would do. Like every benchmark,
it uses ``--bootstrap`` (credential from ``EMINING_KAFKA_*``), else ``EMINING_KAFKA_BOOTSTRAP``,
else starts a throwaway broker of its own (``--reuse`` needs the broker of the run it reuses).
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

from benchmarks.bench_views import raw_consume
from benchmarks.output import (
    add_json_out,
    broker,
    children_peak_rss_mb,
    own_peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    write_json_out,
)
from consumers.audit.records import AuditTopics
from consumers.audit.replay import replay
from consumers.audit.verify import verify_log
from schemas.signing import PrivateKey, b64, unb64
from tests.integration.audit.bus import Bus
from tests.unit.audit.parties import Parties
from tests.unit.audit.scenario import story
from transport.access import KafkaAccess

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
    with broker(args.bootstrap) as kafka:
        return await _run(kafka, args, state)


async def _run(kafka: KafkaAccess, args: argparse.Namespace, state: Path) -> dict[str, Any]:
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
    raw = await raw_consume(kafka, list(topics.all), 500)
    result["raw_aiokafka_json"] = {"records": raw["events"], "seconds": round(raw["seconds"], 2),
                                   "events_per_s": round(raw["events"] / raw["seconds"])}
    result["peak_rss_mb"] = {"process": own_peak_rss_mb(), "workers": children_peak_rss_mb()}
    return result


TARGETS = {"verify": {"min_rate": 25_000, "max_rss_mb": 250},
           "replay": {"min_rate": 10_000, "max_rss_mb": 250}}


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``make bench``'s rows: verify and replay against raw consume + JSON of the same log."""
    raw = result["raw_aiokafka_json"]["events_per_s"]
    rss = result["peak_rss_mb"]
    rows = [row("audit", f"audit verify, {result['events']:,} events", unit="events/s",
                rate=result["verify"]["events_per_s"], raw=raw,
                rss_mb=max(rss["process"], rss["workers"]), rss_of="process or a worker",
                target=TARGETS["verify"],
                note=f"{result['verify']['events_per_cpu_s']:,} events per CPU-second")]
    if "replay" in result:
        rows.append(row("audit", f"audit replay, {result['events']:,} events",
                        unit="events/s", rate=result["replay"]["events_per_s"], raw=raw,
                        rss_mb=rss["process"], rss_of="process", target=TARGETS["replay"]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bootstrap", default=None,
                        help="default: EMINING_KAFKA_BOOTSTRAP, else a throwaway local broker")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--state", default="/tmp/bench-audit")
    parser.add_argument("--reuse", action="store_true", help="audit the previous run's log")
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--skip-replay", action="store_true", help="time verify only")
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    args = parser.parse_args()
    quiet_logging()
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    with stdout_to_stderr():
        result = asyncio.run(run(args, state))
    write_json_out(args.json_out, "audit", result, summary(result))
    if args.json:
        print_json(result)
        return
    for name, value in result.items():
        print(f"{name:8} {value}")


if __name__ == "__main__":
    main()
