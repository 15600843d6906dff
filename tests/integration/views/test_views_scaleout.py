"""Three view consumer processes on one PostgreSQL store, one of them SIGKILLed mid-run.

Three processes with static membership ids ``views-0..2`` share the nine partitions of the
test's topics while the scenario is being published, in three parts. While they apply it:

1. ``views-1`` is SIGKILLed and restarted at once, within its session timeout: it gets its
   partitions back as they were, and the other two are not rebalanced at all;
2. ``views-2`` is SIGKILLed and left dead past its session timeout: its partitions move to the
   other two, which apply the records published meanwhile in them; restarted with the same
   instance id, it gets exactly its partitions back and the others theirs.

The store then holds what one consumer alone makes of the same log: the same views digest,
every subject's events once (no loss, no double), the same alerts in the outbox, each once, and
nothing held and no dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from consumers.alerts import tables as alert_tables
from consumers.config import ViewsConfig
from consumers.digest import digest
from consumers.runner import run_views
from consumers.store import ViewStore
from consumers.store_read import offsets
from tests.integration.views import scenario
from tests.integration.views.conftest import Bus, caught_up, config_for, fresh_database, read_topic
from tests.integration.views.consumer_main import ALERTS_CLOCK, alerts_plugin, encode
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 4_500
SESSION_MS = 25_000
"""``views-2``'s, the member left dead past it. Not the 10 s default: on CI at load 20 (f95a3d6)
the other two were rebalanced while ``views-1`` restarted, most likely one of them missing 10 s
of heartbeats, which is not what step 1 tests."""
LONG_SESSION_MS = 120_000
"""``views-1``'s: longer than a consumer process takes to start on a 2-core machine busy with
other jobs (6-9 s; 24-45 s seen at load 12-15), so its restart is a return, not a new member.
``views-0``, never killed, has it too, so no missed heartbeat of its own rebalances the group."""
START_S = 180.0
"""How long the test waits for processes to start and the group to settle."""
CLOCK = "2024-06-01T00:00:00+00:00"
"""The alerts' clock, held still in every run, before the scenario: no deadline is due, so
what the timers fire does not depend on when they tick."""
ORDER_DEPENDENT = {"export_without_approval"}
"""Rules judged on another topic's view at the moment the event is applied (a declaration's
export approval, from the approvals view): whether the approval is in yet depends on how the
partitions were read, with one consumer as with three, so they are left out of the comparison."""
INSTANCES = ("views-0", "views-1", "views-2")
QUICK, DEAD = "views-1", "views-2"


def spawn(config: ViewsConfig, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m",
             "tests.integration.views.consumer_main", encode(config)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "EMINING_TEST_CONSUMER_LOG": "info",
                 ALERTS_CLOCK: CLOCK})


def assignments(log: Path) -> list[frozenset[str]]:
    """Every assignment the process logged (partitions as ``topic[n]``), in order."""
    found = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            doc: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        if doc.get("event") == "partitions_assigned":
            found.append(frozenset(doc["partitions"]))
    return found


def rebalance_reasons(request: pytest.FixtureRequest, group_id: str) -> list[str]:
    """Why the test's broker rebalanced the group, from its log (for a failure's message)."""
    base = request.getfixturevalue("tmp_path_factory").getbasetemp()
    logs = {found.resolve() for found in base.glob("kafka-session*/kafka/logs/server.log")}
    return [line.split("(reason: ", 1)[-1][:200]
            for log in sorted(logs)
            for line in log.read_text(errors="replace").splitlines()
            if f"rebalance group {group_id} " in line and "(reason: " in line]


async def until(what: str, check: Any, timeout_s: float = START_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.1)


async def applied(store: ViewStore) -> int:
    return sum((await offsets(store)).values())


async def timeline_counts(store: ViewStore) -> Counter[str]:
    async with store.reading() as (conn, tables):
        tl = tables.timeline
        return Counter(row[0] for row in await conn.execute(select(tl.c.subject)))


async def outcome(url: str) -> tuple[str, Counter[str], list[tuple[str, ...]], int]:
    """The views digest, the timeline rows per subject, the alerts (sorted) and held rows."""
    store = ViewStore(url)
    await store.open()
    try:
        async with store.reading() as (conn, tables):
            a = alert_tables.alerts.c
            alerts = sorted(tuple(str(v) for v in row) for row in await conn.execute(
                select(a.alert_id, a.recipient, a.rule, a.about, a.topic)
                .where(a.rule.not_in(ORDER_DEPENDENT))))
            d = alert_tables.deadlines.c
            alerts += sorted(("deadline", *(str(v) for v in row)) for row in await conn.execute(
                select(d.key, d.rule, d.subject, d.fires_at, d.due_on, d.fired_at)))
            held = len((await conn.execute(select(tables.held.c.log_offset))).all())
        return await digest(store), await timeline_counts(store), alerts, held
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def one_consumer(config: ViewsConfig) -> AsyncIterator[None]:
    """One consumer in this process, with the same alerts as the subprocesses."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_views(config, stop, alerts=alerts_plugin(CLOCK)))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


class Group:
    """The three consumer processes, their logs, and the assignments they logged."""

    def __init__(self, base: ViewsConfig, logs: Path) -> None:
        self.configs = {name: replace(base, instance_id=name) for name in INSTANCES}
        for name in ("views-0", QUICK):
            self.configs[name] = replace(self.configs[name], session_timeout_ms=LONG_SESSION_MS)
        self.logs = {name: logs / f"{name}.log" for name in INSTANCES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        self.processes[name] = spawn(self.configs[name], self.logs[name])

    def kill(self, name: str) -> None:
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait()

    def seen(self, name: str) -> list[frozenset[str]]:
        return assignments(self.logs[name])

    def now(self, name: str) -> frozenset[str] | None:
        seen = self.seen(name)
        return seen[-1] if seen else None

    def counts(self) -> dict[str, int]:
        return {name: len(self.seen(name)) for name in INSTANCES}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            process.wait(timeout=60)

    def alive(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} died on its own, see {self.logs[name]}"


async def scaled_run(group: Group, bus: Bus, parts: list[list[list[scenario.Step]]],
                     store: ViewStore) -> dict[str, Any]:
    """Start the three, restart ``QUICK`` at once, leave ``DEAD`` dead a while; what was seen."""
    seen: dict[str, Any] = {}
    group.start("views-0")  # first: the group's leader
    await until("views-0 assigned", lambda: group.now("views-0"))
    for name in INSTANCES[1:]:
        group.start(name)
    await until("three members with three partitions each",
                lambda: all(len(group.now(n) or ()) == 3 for n in INSTANCES))
    initial = seen["initial"] = {n: group.now(n) for n in INSTANCES}
    assert len(frozenset().union(*initial.values())) == 9, initial

    # 1. SIGKILL while applying, restart at once (within its session timeout)
    publishing = asyncio.create_task(bus.rounds(parts[1]))
    before = await applied(store)
    for _ in range(300):
        if await applied(store) > before + 300:
            break
        await asyncio.sleep(0.05)
    counts = group.counts()
    group.kill(QUICK)
    seen["first_kill"] = await applied(store)
    group.start(QUICK)
    await until(f"{QUICK} back", lambda: group.counts()[QUICK] > counts[QUICK])
    seen["quick_restart"] = group.now(QUICK)
    seen["quick_others"] = {n: group.seen(n)[counts[n]:] for n in INSTANCES if n != QUICK}
    seen["published"] = await publishing
    # the restarted member applies again: its partitions' records wait for it (the other two
    # may have applied all of theirs already, on a fast machine before it is even back)
    deadline = asyncio.get_running_loop().time() + START_S
    while await applied(store) <= seen["first_kill"]:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"nothing applied within {START_S}s of {QUICK}'s restart")
        await asyncio.sleep(0.1)

    # 2. SIGKILL and stay dead past the session timeout: the other two take its partitions
    group.kill(DEAD)
    stored = await offsets(store)
    seen["second_kill"] = sum(stored.values())
    everything = frozenset().union(*initial.values())

    def taken_over() -> bool:
        owned = [group.now(n) or frozenset() for n in ("views-0", QUICK)]
        return owned[0] | owned[1] == everything and not owned[0] & owned[1]

    await until("the dead member's partitions taken over", taken_over, SESSION_MS / 1000 + 60)
    seen["during"] = {n: group.now(n) for n in ("views-0", QUICK)}
    seen["published"] += await bus.rounds(parts[2])  # applied by the other two alone
    ends = await caught_up(store.url, group.configs[DEAD], timeout_s=240)
    seen["dead_progress"] = {tp: (stored.get(tp, 0), ends.get(tp, 0)) for tp in ends
                             if f"{tp[0]}[{tp[1]}]" in (initial[DEAD] or ())}

    # 3. restarted with the same instance id: exactly its partitions come back to it
    counts = group.counts()
    group.start(DEAD)

    def back() -> bool:
        return all(group.counts()[n] > counts[n] and group.now(n) == initial[n]
                   for n in INSTANCES)

    await until("the original assignment back", back)
    seen["final"] = {n: group.now(n) for n in INSTANCES}
    await asyncio.sleep(1.0)  # the deadline timers' last ticks (every 0.2 s)
    group.alive()
    return seen


@pytest.mark.timeout(900)  # ~80 s on a quiet 2-core machine, 4 min seen at load 15-20
async def test_three_processes_one_killed_lose_nothing_double_nothing_and_keep_partitions(
    bus: Bus, kafka_access: KafkaAccess, tmp_path: Path, request: pytest.FixtureRequest,
):
    history = scenario.build(scenario.stories_for(EVENTS))
    rounds = history.rounds()
    cut = [len(rounds) // 3, 2 * len(rounds) // 3]
    parts = [rounds[:cut[0]], rounds[cut[0]:cut[1]], rounds[cut[1]:]]
    published = await bus.rounds(parts[0])
    server = request.getfixturevalue("postgres_url")
    shared_url, single_url = await fresh_database(server), await fresh_database(server)
    base = config_for(kafka_access, bus.topics, shared_url, batch_size=200,
                      session_timeout_ms=SESSION_MS)
    group = Group(base, tmp_path)
    store = ViewStore(shared_url)
    await store.open()
    try:
        seen = await scaled_run(group, bus, parts, store)
    finally:
        group.stop()
        await store.close()
    assert published + seen["published"] == history.events
    assert 0 < seen["first_kill"] < seen["second_kill"] < history.events, seen
    initial = seen["initial"]
    assert seen["quick_restart"] == initial[QUICK], "a quick restart got other partitions"
    assert seen["quick_others"] == {"views-0": [], DEAD: []}, (
        f"the others were rebalanced though {QUICK} came back within its session timeout; "
        f"the broker's reasons: {rebalance_reasons(request, base.group_id)}")
    assert seen["during"]["views-0"] | seen["during"][QUICK] >= initial[DEAD]
    progress = seen["dead_progress"]  # (stored at the kill, stored once caught up)
    assert len(progress) == 3
    assert all(after >= before for before, after in progress.values())
    assert sum(after - before for before, after in progress.values()) > 200, (
        f"the others should apply the dead member's partitions: {seen}")
    assert seen["final"] == initial

    single = config_for(kafka_access, bus.topics, single_url, batch_size=200)
    async with one_consumer(single):
        await caught_up(single_url, single, timeout_s=240)
        await asyncio.sleep(1.0)
    shared_digest, shared_counts, shared_alerts, shared_held = await outcome(shared_url)
    single_digest, single_counts, single_alerts, single_held = await outcome(single_url)
    expected = Counter(step.draft.data.subject for story in history.stories
                       for step in story.steps)
    assert shared_counts == expected, "an update was lost or doubled"
    assert single_counts == expected
    assert shared_digest == single_digest, "three processes made other views than one"
    assert len(shared_alerts) > 100, "the scenario should raise alerts"
    assert shared_alerts == single_alerts, (
        f"alerts only with three: {sorted(set(shared_alerts) - set(single_alerts))[:20]}; "
        f"only with one: {sorted(set(single_alerts) - set(shared_alerts))[:20]}")
    assert shared_held == single_held == 0
    assert await read_topic(kafka_access, bus.topics.dlq) == []
