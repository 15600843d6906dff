"""``audit verify``: every record of a log snapshot checked, every violation pinned to its offset.

The registry is folded first, from the whole participants topic in log order, and each shared
event is then judged by the registry *at the event's time*. That is correct because every
registry fact carries its own validity (a key's ``valid_from``/``valid_until``, a grant's
``valid_from``/withdrawal, an organisation's on/offboarding): ``Registry.key_for(org, keyid, at)``
and ``decide(..., at)`` answer for that moment, whatever was appended later. A revocation
published after the fact (a key found stolen) therefore also condemns what the key signed after
``revoked_at``, which a live consumer could not have known when it accepted those events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

import structlog

from consumers.audit.chains import ChainJudge
from consumers.audit.columns import Columns
from consumers.audit.completeness import judge, no_checkpoints
from consumers.audit.findings import Completeness, Finding, Kind, VerifyReport
from consumers.audit.inspect import Inspector, Standing
from consumers.audit.leaves import LeafTable, of_topics
from consumers.audit.lifecycle import LifecycleJudge
from consumers.audit.pool import default_workers, inspect_slices, plan, warm_up
from consumers.audit.records import AuditTopics, RawRecord
from consumers.audit.snapshot import LogReader, Snapshot
from consumers.audit.tlogread import read_judged
from schemas.errors import ContractError
from schemas.registry import Registry
from schemas.timing import TimeBounds
from transport.access import KafkaAccess

log = structlog.get_logger("consumers.audit.verify")

Progress = Callable[[int, int], None]
"""``(records done so far, records in the snapshot)``."""

PARALLEL_FROM = 5000
"""Below this many records, starting worker processes costs more than it saves."""


def fold_registry(
    records: Iterable[RawRecord], trust_anchor: Iterable[bytes], topics: AuditTopics
) -> tuple[Registry, Columns, list[Finding]]:
    """Fold the participants topic in log order, keeping only what the trust anchor signed."""
    registry = Registry()
    inspector = Inspector(Registry(), trust_anchor, topics)
    seen = Columns()
    conflicts: list[Finding] = []
    for record in records:
        item, env = inspector.judge(record)
        seen.append(item)
        if item.standing is not Standing.AUTHENTIC or env is None:
            continue
        try:
            registry.apply(env.data, env.time)
        except ContractError as exc:
            conflicts.append(Finding(record.topic, record.partition, record.offset, env.id,
                                     env.source, Kind.REGISTRY_CONFLICT, str(exc)))
    return registry, seen, conflicts


def truncation(snapshot: Snapshot) -> list[Finding]:
    """A partition whose log no longer starts at 0 lost history no audit can check."""
    return [
        Finding(topic, partition, start, None, None, Kind.LOG_TRUNCATED,
                f"offsets 0-{start - 1} were deleted (retention or compaction): the chains "
                "through them cannot be verified")
        for (topic, partition), start in sorted(snapshot.start.items())
        if start > 0
    ]


async def verify_log(
    kafka: KafkaAccess,
    trust_anchor: Iterable[bytes],
    *,
    topics: AuditTopics | None = None,
    workers: int | None = None,
    timeout_s: float = 15.0,
    on_progress: Progress | None = None,
    time_bounds: TimeBounds | None = None,
    completeness: bool = True,
) -> VerifyReport:
    """Verify the participants and shared topics from offset 0 to their current ends, and (with
    ``completeness``) the log against the platform's cosigned checkpoints of it."""
    bounds = time_bounds or TimeBounds()
    topics = topics or AuditTopics()
    anchors = list(trust_anchor)
    progress = on_progress or (lambda _done, _total: None)
    started, cpu = time.perf_counter(), time.process_time()
    worker_cpu = 0.0
    warming = asyncio.create_task(asyncio.to_thread(warm_up)) if workers != 0 else None
    async with LogReader(kafka, timeout_s=timeout_s) as reader:
        snapshot = await reader.snapshot(topics.all)
        total = snapshot.total()
        progress(0, total)
        registry_records: list[RawRecord] = []
        async for batch in reader.read(snapshot, [topics.participants]):
            registry_records.extend(batch)
        registry, inspected, findings = fold_registry(registry_records, anchors, topics)
        leaves = LeafTable() if completeness else None
        if leaves is not None:
            leaves.add_records(registry_records)
        done = len(registry_records)
        progress(done, total)

        def advance(count: int) -> None:
            nonlocal done
            done += count
            progress(done, total)

        chosen = default_workers() if workers is None else workers
        if workers is None and snapshot.total(topics.shared) < PARALLEL_FROM:
            chosen = 0
        if warming is not None:
            await warming
        if chosen > 0:
            found, worker_cpu = await inspect_slices(
                kafka,
                plan(snapshot, topics.shared, chosen),
                (registry, anchors, topics, snapshot.partition_counts(), bounds),
                workers=chosen,
                timeout_s=timeout_s,
                on_done=advance,
                leaves=leaves,
            )
            inspected.extend(found)
            del found
        else:
            inspector = Inspector(registry, anchors, topics, snapshot.partition_counts(), bounds)
            async for batch in reader.read(snapshot, topics.shared):
                inspected.extend(Columns(map(inspector.inspect, batch)))
                if leaves is not None:
                    leaves.add_records(batch)
                advance(len(batch))
        summary: Completeness | None = None
        if leaves is not None:
            complete, summary = await judge_completeness(
                reader, topics, anchors, registry, snapshot, leaves, timeout_s)
            findings += complete
    report = conclude(registry, inspected, truncation(snapshot) + findings, started,
                      snapshot.by_topic(), chosen)
    report.completeness = summary
    report.cpu_seconds = time.process_time() - cpu + worker_cpu
    return report


async def judge_completeness(
    reader: LogReader, topics: AuditTopics, anchors: list[bytes], registry: Registry,
    snapshot: Snapshot, leaves: LeafTable, timeout_s: float,
) -> tuple[list[Finding], Completeness]:
    """The snapshot's logs against the checkpoints and cosignatures on the bus now."""
    started = time.perf_counter()
    built = leaves.build()
    starts = dict(snapshot.start)
    judged = await read_judged(reader.kafka, topics, anchors, registry, of_topics(topics.all),
                               timeout_s=timeout_s, reader=reader)
    if judged is None or not judged.read:
        return no_checkpoints(topics.checkpoints, starts, built)
    out = judge(built, starts, judged)
    log.info("audit_completeness", seconds=round(time.perf_counter() - started, 3))
    return out


def verify_records(
    records: Iterable[RawRecord], trust_anchor: Iterable[bytes], topics: AuditTopics | None = None,
    partitions: dict[str, int] | None = None, time_bounds: TimeBounds | None = None,
) -> VerifyReport:
    """The same audit over records already in memory, in this process (tests, small logs);
    ``partitions`` (per topic) checks that keyed records are where their keys hash to."""
    topics = topics or AuditTopics()
    anchors = list(trust_anchor)
    started = time.perf_counter()
    rows = list(records)
    registry, inspected, findings = fold_registry(
        (r for r in rows if r.topic == topics.participants), anchors, topics
    )
    inspector = Inspector(registry, anchors, topics, partitions, time_bounds)
    inspected.extend(Columns(
        inspector.inspect(r) for r in rows if r.topic != topics.participants))
    ends: dict[str, dict[int, int]] = {}
    for r in rows:
        parts = ends.setdefault(r.topic, {})
        parts[r.partition] = max(parts.get(r.partition, 0), r.offset + 1)
    return conclude(registry, inspected, findings, started, ends, 0)


def conclude(
    registry: Registry,
    inspected: Columns,
    findings: list[Finding],
    started: float,
    end_offsets: dict[str, dict[int, int]],
    workers: int,
) -> VerifyReport:
    """Run the chain pass over everything inspected and assemble the report."""
    judge = ChainJudge(inspected)
    findings = findings + judge.judge()
    events, sources = sum(len(chain) for chain in judge.chains.values()), len(judge.chains)
    del judge  # its dicts hold an entry per record: gone before the lifecycle pass
    findings += LifecycleJudge().judge(
        inspected, inspected.in_log_order(inspected.indexes_of(Standing.AUTHENTIC)))
    findings.sort(key=lambda f: (f.topic, f.partition, f.offset, f.kind.value))
    report = VerifyReport(
        records=len(inspected),
        events=events,
        sources=sources,
        seconds=time.perf_counter() - started,
        end_offsets=end_offsets,
        findings=findings,
        registry=registry,
    )
    log.info("audit_verified", records=report.records, violations=len(report.violations),
             warnings=len(report.warnings), seconds=round(report.seconds, 2), workers=workers)
    return report
