"""Audit throughput: publish a realistic log through the SDK, then time verify and replay.

    .venv/bin/python -m benchmarks.bench_audit [--events 200000] [--bootstrap HOST:PORT]
        [--state /tmp/bench-audit] [--reuse] [--workers 2] [--json] [--json-out FILE]
        [--profile DIR]

Publishes ``--events`` (about; whole projects) scenario events from a dozen sources to a topic
set of its own (``bench.audit.<tag>.*``, 6 partitions like the catalogue), unless ``--reuse``
finds the previous run's topics and keys in ``--state``. Then runs ``audit verify`` over them
(every signature, key, authority, chain) and ``audit replay`` (the views rebuilt into a scratch
SQLite store), and, as the baseline, raw aiokafka reading the same topics and ``json.loads``-ing
each value (``bench_views.raw_consume``). Reports wall-clock events/s and CPU seconds: the
machine may be shared, and CPU time says what an idle machine would do. Like every benchmark,
it uses ``--bootstrap`` (credential from ``EMINING_KAFKA_*``), else ``EMINING_KAFKA_BOOTSTRAP``,
else starts a throwaway broker of its own (``--reuse`` needs the broker of the run it reuses).

Verify and replay each run in a process of their own, as ``emining audit verify`` and
``emining audit replay`` do (this benchmark started again with ``--reuse --phase verify`` or
``replay``), so that their peak RSS (``peak_rss_mb``: ``verify`` and ``replay``, each the
process's ``VmHWM``, and ``verify_workers`` / ``replay_workers``, the largest of its worker
processes, sampled from ``/proc``) is theirs and not the publishing's, which this process keeps
(``after_publish``). ``--profile DIR`` runs verify and replay under cProfile (``DIR/verify.prof``:
that process only, so with ``--workers 0`` every event's inspection is in it;
``DIR/replay.prof``); ``python -m benchmarks.profiles FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.bench_views import raw_consume
from benchmarks.output import (
    add_json_out,
    broker,
    exit_on_sigterm,
    peak_rss_mb,
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
from tests.kafka_support import access_env
from tests.unit.audit.parties import Parties
from tests.unit.audit.scenario import story
from transport import eventloop
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


def _descendants(root: int) -> list[int]:
    """Every live process under ``root`` (children, theirs, ...), from ``/proc``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [root]
    while frontier:
        kids = [pid for pid, parent in parents.items() if parent in frontier]
        found += kids
        frontier = kids
    return found


@contextlib.contextmanager
def descendants_peak(into: dict[str, float], every_s: float = 0.5) -> Iterator[None]:
    """While the block runs, the largest peak RSS (``VmHWM``) of any process under this one
    (the verify workers are the fork server's children, so ``RUSAGE_CHILDREN`` misses them),
    sampled every ``every_s``, into ``into["workers"]``."""
    stop = threading.Event()

    def sample() -> None:
        while True:
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError, ValueError):
                    into["workers"] = max(into.get("workers", 0.0), peak_rss_mb(pid))
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """cProfile the block into ``path`` (nothing without one)."""
    if path is None:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        profiler.dump_stats(str(path))


async def run(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    with broker(args.bootstrap) as kafka:
        return await _run(kafka, args, state)


async def _run(kafka: KafkaAccess, args: argparse.Namespace, state: Path) -> dict[str, Any]:
    if args.reuse and (state / "bench.json").exists():
        topics, parties, events = _reused(state)
    else:
        topics, parties, events = await publish(kafka, args.events, state)
    if args.phase == "verify":
        return await _verify(kafka, args, topics, parties)
    if args.phase == "replay":
        return await _replay(kafka, args, topics, parties)
    result: dict[str, Any] = {"events": events, "cpus": os.cpu_count(),
                              "topics": list(topics.all)}
    rss: dict[str, float] = {"after_publish": peak_rss_mb()}
    for phase in ("verify", *(() if args.skip_replay else ("replay",))):
        done = _phase(kafka, args, state, phase)
        result[phase] = done[phase]
        rss[phase] = done["peak_rss_mb"]["process"]
        rss[f"{phase}_workers"] = done["peak_rss_mb"]["workers"]
    raw = await raw_consume(kafka, list(topics.all), 500)
    result["raw_aiokafka_json"] = {"records": raw["events"], "seconds": round(raw["seconds"], 2),
                                   "events_per_s": round(raw["events"] / raw["seconds"])}
    result["peak_rss_mb"] = rss
    return result


def _phase(kafka: KafkaAccess, args: argparse.Namespace, state: Path,
           phase: str) -> dict[str, Any]:
    """``phase`` (verify, replay) of the log in ``state``, in a process of its own."""
    command = [sys.executable, "-m", "benchmarks.bench_audit", "--reuse", "--state", str(state),
               "--phase", phase, "--json"]
    if args.workers is not None:
        command += ["--workers", str(args.workers)]
    if args.profile is not None:
        command += ["--profile", str(args.profile)]
    out = subprocess.run(command, capture_output=True, text=True, check=False,
                         env={**os.environ, **access_env(kafka)})
    if out.returncode != 0:
        raise RuntimeError(f"audit {phase} failed ({out.returncode}): {out.stderr[-3000:]}")
    return dict(json.loads(out.stdout))


async def _verify(kafka: KafkaAccess, args: argparse.Namespace, topics: AuditTopics,
                  parties: Parties) -> dict[str, Any]:
    """``--phase verify``: verify the log; this process's and its workers' peak RSS."""
    rss: dict[str, float] = {}
    profile: Path | None = args.profile
    with descendants_peak(rss), profiled(profile and profile / "verify.prof"):
        report = await verify_log(kafka, parties.trust_anchor, topics=topics,
                                  workers=args.workers, timeout_s=30.0)
    return {"verify": {
        "records": report.records, "seconds": round(report.seconds, 2),
        "events_per_s": round(report.rate), "ok": report.ok, "findings": len(report.findings),
        "cpu_seconds": round(report.cpu_seconds, 2),
        "events_per_cpu_s": round(report.records / report.cpu_seconds),
    }, "peak_rss_mb": _peaks(rss)}


async def _replay(kafka: KafkaAccess, args: argparse.Namespace, topics: AuditTopics,
                  parties: Parties) -> dict[str, Any]:
    """``--phase replay``: rebuild the views into a scratch SQLite store; peak RSS."""
    rss: dict[str, float] = {}
    profile: Path | None = args.profile
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as folder, descendants_peak(rss):
        cpu = time.process_time()
        with profiled(profile and profile / "replay.prof"):
            replayed = await replay(kafka, parties.trust_anchor,
                                    f"sqlite:///{Path(folder) / 'views.sqlite'}",
                                    topics=topics, timeout_s=30.0)
        cpu = time.process_time() - cpu
    return {"replay": {
        "records": replayed.records, "applied": replayed.applied,
        "rejected": replayed.rejected, "seconds": round(replayed.seconds, 2),
        "events_per_s": round(replayed.records / replayed.seconds),
        "cpu_seconds": round(cpu, 2), "digest": replayed.digest.sha256,
    }, "peak_rss_mb": _peaks(rss)}


def _peaks(sampled: dict[str, float]) -> dict[str, float]:
    """This process's peak RSS and its workers' (``VmHWM``, sampled). Not ``getrusage``: on
    Linux a process started by another begins with its parent's ``ru_maxrss`` (a phase started
    from the process that published read 176 MB before doing anything), and so do workers."""
    return {"process": peak_rss_mb(), "workers": sampled.get("workers", 0.0)}


TARGETS = {"verify": {"min_rate": 25_000, "max_rss_mb": 250},
           "replay": {"min_rate": 10_000, "max_rss_mb": 250}}


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``make bench``'s rows: verify and replay against raw consume + JSON of the same log."""
    raw = result["raw_aiokafka_json"]["events_per_s"]
    rss = result["peak_rss_mb"]
    rows = [row("audit", f"audit verify, {result['events']:,} events", unit="events/s",
                rate=result["verify"]["events_per_s"], raw=raw,
                rss_mb=max(rss["verify"], rss["verify_workers"]),
                rss_of="its process or a worker",
                target=TARGETS["verify"],
                note=f"{result['verify']['events_per_cpu_s']:,} events per CPU-second")]
    if "replay" in result:
        rows.append(row("audit", f"audit replay, {result['events']:,} events",
                        unit="events/s", rate=result["replay"]["events_per_s"], raw=raw,
                        rss_mb=max(rss["replay"], rss["replay_workers"]),
                        rss_of="its process or its worker", target=TARGETS["replay"]))
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
    parser.add_argument("--phase", choices=("all", "verify", "replay"), default="all",
                        help="run one audit command in this process (how the benchmark runs "
                             "each in a process of its own; with --reuse)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="cProfile verify and replay into DIR/verify.prof, DIR/replay.prof")
    add_json_out(parser)
    args = parser.parse_args()
    if args.profile:
        args.profile = args.profile.resolve()
        args.profile.mkdir(parents=True, exist_ok=True)
    quiet_logging()
    exit_on_sigterm()
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    with stdout_to_stderr():
        result = eventloop.run(run(args, state))
    if args.phase != "all":  # one command, for the run that started this process
        print_json(result)
        return
    write_json_out(args.json_out, "audit", result, summary(result))
    if args.json:
        print_json(result)
        return
    for name, value in result.items():
        print(f"{name:8} {value}")


if __name__ == "__main__":
    main()
