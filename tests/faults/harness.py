"""The fault suite's runner: a three-node cluster, three publishing clients, five faults, a checker.

Run as root inside a fresh network namespace (``unshare -n``; ``tests/faults/test_faults.py`` does
it): the host's network is never touched. In that namespace a bridge joins one namespace per node
(each node's JVM is started through ``nsenter --net=…``), so "cut one node off" is one
``ip link set … down`` on the bridge side of its veth, symmetric and silent like a real partition,
and "heal" is ``up``.

Clients, all publishing as one registered firm, continuously, each on its own source (chain):
the SDK (``Publisher``, batches of events), ``emining import`` (a subprocess per file, re-run
when it fails until the file is in) and the gateway (uvicorn on loopback, real HTTP posts). The
SDK client also publishes customs holds as a second registered organisation (customs, its own
source): each raises two alerts, to customs and to the firm (the exporter).
Every acknowledged send is recorded with its event id (and source and sequence where the client
reports them), every reported failure too. The views consumer runs throughout with the alerts
as ``emining views run`` hosts them (rules, outbox, delivery signed as the platform). After each
scenario the checker reads the topics to their ends and the audit verifies the whole log; it
reads the recipients' alerts topics too (every alert the holds raise exactly once, none extra,
each verified under the platform key); figures go to ``<out>/<scenario>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import func, select

from consumers.alerts import tables as alert_tables
from consumers.alerts.reader import AlertVerifier
from consumers.audit.verify import verify_log
from consumers.config import ViewsConfig
from consumers.digest import digest
from consumers.rebuild import rebuild
from consumers.runner import run_views_forever
from consumers.store import ViewStore
from consumers.store_read import offsets
from infra import local_kafka
from infra.cli.publish import _with_id
from infra.compose.alerts_runtime import plugin as alerts_plugin
from infra.compose.app import build_app
from infra.kafka_admin.topics import apply_topics
from infra.kafka_settings import kafka_access
from infra.logging import configure_logging
from infra.settings import Settings
from producers.bulk import Row, read_rows
from producers.gateway_auth import ApiKeyStore
from producers.keys import key_file_name, write_key
from producers.publisher import Draft, Publisher
from schemas.alerts import PLATFORM_ORG, AlertRaised, AlertRule, alerts_topic_spec
from schemas.catalogue import model_for
from schemas.envelope import org_of
from schemas.envelope_read import from_record
from schemas.errors import ContractError
from schemas.events.examples import OPERATOR
from schemas.events.shipments_border import CustomsHeld
from schemas.signing import PrivateKey, b64
from schemas.topics import PROJECTS, SHIPMENTS, alerts_topic, catalogue
from tests.integration.gateway.conftest import (
    REGISTERED_PROJECTS,
    firm_org,
    publish_registry,
    register_projects,
    unique_org,
)
from tests.integration.views.parties import CUSTOMS, registry_seed
from tests.kafka_support import access_env, settings_for
from transport.access import KafkaAccess
from transport.clients import admin_client
from transport.errors import PublishError
from transport.meta import partitions_of
from transport.read import read_to_end as read_log_to_end

log = structlog.get_logger("faults")

ROOT = Path(__file__).resolve().parents[2]
MILESTONE = "pk.emining.project.milestone.reached"
HOLD = CustomsHeld.TYPE
HOLD_PAUSE_S = 0.3
"""Between the SDK's customs holds: ~2 holds a second, each raising two alerts."""
ALERTS_WAIT_S = 60.0
"""After the views caught up, how long the delivery worker may take to empty the outbox."""
SUBNET = "10.99.0"
BRIDGE = "embr0"
CLIENT_TIMEOUT_S = 10.0
"""Each client's bound on one broker operation: a failover shorter than this is ridden out."""
WARMUP_S = 3.0
SETTLE_S = 4.0
"""Load after the cluster is whole again: every client must show a fresh acknowledgement."""
DOWN_S = 6.0
"""How long a killed node stays dead, and the partitioned node cut off (longer, see there)."""
HEAL_TIMEOUT_S = 120.0
RECOVERY_WAIT_S = 90.0
STOP_TIMEOUT_S = 90.0
SCENARIOS = ("leader_kill", "controller_kill", "rolling_restart", "full_restart", "partition")
CLIENTS = ("sdk", "import", "gateway")


def host_of(node_id: int) -> str:
    return f"{SUBNET}.{node_id}"


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30)


# --------------------------------------------------------------------------- network


class Network:
    """A bridge in this (private) namespace and one namespace per node, joined by veths."""

    def __init__(self) -> None:
        self.holders: dict[int, subprocess.Popen[bytes]] = {}

    def build(self, nodes: int) -> None:
        run("ip", "link", "set", "lo", "up")
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{SUBNET}.254/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        for node_id in range(1, nodes + 1):
            holder = subprocess.Popen(
                ["unshare", "-n", "sleep", "86400"], stdin=subprocess.DEVNULL)
            self.holders[node_id] = holder
            ns = f"/proc/{holder.pid}/ns/net"
            deadline = time.monotonic() + 10
            while Path(ns).readlink() == Path("/proc/self/ns/net").readlink():
                if time.monotonic() > deadline:
                    raise RuntimeError("unshare -n did not make a namespace")
                time.sleep(0.02)
            outside, inside = f"emv{node_id}h", f"emv{node_id}n"
            run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            run("ip", "link", "set", outside, "master", BRIDGE, "up")
            run("ip", "link", "set", inside, "netns", str(holder.pid))
            enter = ["nsenter", f"--net={ns}"]
            run(*enter, "ip", "link", "set", "lo", "up")
            run(*enter, "ip", "addr", "add", f"{host_of(node_id)}/24", "dev", inside)
            run(*enter, "ip", "link", "set", inside, "up")

    def wrap(self, node_id: int) -> list[str]:
        return ["nsenter", f"--net=/proc/{self.holders[node_id].pid}/ns/net", "--"]

    def cut(self, node_id: int) -> None:
        run("ip", "link", "set", f"emv{node_id}h", "down")

    def heal(self, node_id: int) -> None:
        run("ip", "link", "set", f"emv{node_id}h", "up")

    def close(self) -> None:
        for holder in self.holders.values():
            holder.kill()
            holder.wait(timeout=10)


# --------------------------------------------------------------------------- ledger


@dataclass
class Send:
    client: str
    event_id: str
    scenario: str
    started: float
    done: float
    acked: bool
    source: str | None = None
    sequence: int | None = None
    error: str | None = None


@dataclass
class Ledger:
    """Every send each client made and what its caller was told."""

    sends: list[Send] = field(default_factory=list)
    scenario: str = "setup"

    def ack(self, client: str, event_id: str, started: float, *, source: str | None = None,
            sequence: int | None = None) -> None:
        self.sends.append(Send(client, event_id, self.scenario, started, time.monotonic(), True,
                               source, sequence))

    def fail(self, client: str, event_id: str, started: float, error: str) -> None:
        self.sends.append(Send(client, event_id, self.scenario, started, time.monotonic(), False,
                               error=error[:300]))


AlertKey = tuple[str, str, str]
"""(rule, id of the event that raised it, recipient): one alert, ever (its id derives from it)."""


@dataclass
class AlertLedger:
    """What earlier checks already counted: each expected alert is counted (delivered or
    missing) by the first check after its event is on the log, each duplicate or extra once."""

    counted: set[AlertKey] = field(default_factory=set)
    duplicated: set[AlertKey] = field(default_factory=set)
    extra: set[AlertKey] = field(default_factory=set)


# --------------------------------------------------------------------------- world


@dataclass
class World:
    settings: Settings
    """The cluster's own settings (state dir, admin credential)."""
    access: KafkaAccess
    root: Path
    operator: PrivateKey
    firm: PrivateKey
    customs: PrivateKey
    """A second registered organisation (customs): its holds raise alerts."""
    net: Network
    ledger: Ledger = field(default_factory=Ledger)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    counter: int = 0
    views: ViewsConfig | None = None
    """The views consumer running through every fault (its store compared with a rebuild)."""
    views_task: asyncio.Task[None] | None = None
    holds: int = 0
    alerts: AlertLedger = field(default_factory=AlertLedger)

    def views_done(self) -> bool:
        return self.views_task is not None and self.views_task.done()

    def client_settings(self, name: str) -> Settings:
        return settings_for(self.access, state_dir=self.root / name,
                            trust_anchor=b64(self.operator.public_key),
                            client_timeout_s=CLIENT_TIMEOUT_S)

    def next_hold(self) -> dict[str, Any]:
        """A hold of a shipment of the firm's (unique per hold), held just now."""
        self.holds += 1
        held_at = datetime.now(UTC) - timedelta(seconds=1)
        return {"shipment_id": f"SHP-2026-{900000 + self.holds:06d}", "exporter_uscc": OPERATOR,
                "declaration_number": f"KPQE-SB-{self.holds:07d}-06122026",
                "held_at": held_at.isoformat(), "reason": "sampling",
                "detail": "Samples drawn for verification (fault suite)"}

    def next_milestone(self) -> dict[str, Any]:
        """Unique content (so import's derived ids differ), a registered project."""
        self.counter += 1
        project = REGISTERED_PROJECTS[self.counter % len(REGISTERED_PROJECTS)]
        reached = date(2000, 1, 1) + timedelta(days=self.counter)
        return {"project_id": project, "operator_uscc": OPERATOR,
                "milestone": "financial_close", "reached_on": reached.isoformat()}


def pause() -> float:
    return 0.05


async def sdk_client(world: World) -> None:
    """The SDK: the firm's milestones and customs' holds, each its own publisher and chain."""
    async with asyncio.TaskGroup() as group:
        group.create_task(sdk_publishing(
            world, world.firm, "sdk", 5, lambda: model_for(MILESTONE).model_validate(
                world.next_milestone()), pause))
        group.create_task(sdk_publishing(
            world, world.customs, "sdk-customs", 1,
            lambda: CustomsHeld.model_validate(world.next_hold()), lambda: HOLD_PAUSE_S))


async def sdk_publishing(world: World, key: PrivateKey, name: str, batch: int,
                         make: Callable[[], Any], wait: Callable[[], float]) -> None:
    """Batches of ``batch`` events as ``key``'s org; on a PublishError the next call settles
    the outbox. Sends count as the SDK client's."""
    async with Publisher(kafka=world.access, key=key, source=f"{key.org}/sdk",
                         state_dir=world.root / name, timeout_s=CLIENT_TIMEOUT_S) as pub:
        while not world.stop.is_set():
            drafts = [Draft(make(), str(uuid.uuid4())) for _ in range(batch)]
            started = time.monotonic()
            try:
                results = await pub.publish_many(drafts)
            except (PublishError, OSError, TimeoutError) as exc:
                for draft in drafts:
                    assert draft.event_id is not None
                    state = pub.known(draft.event_id)
                    if state is not None and type(state).__name__ == "Acknowledged":
                        world.ledger.ack("sdk", draft.event_id, started)
                    else:
                        world.ledger.fail("sdk", draft.event_id, started, str(exc))
                await asyncio.sleep(0.5)
                continue
            for result in results:
                world.ledger.ack("sdk", result.id, started, source=result.source,
                                 sequence=result.sequence)
            await asyncio.sleep(wait())


def _ranges(text: str) -> set[int]:
    lines: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        if first:
            lines.update(range(int(first), int(last or first) + 1))
    return lines


async def import_until_in(world: World, path: Path, ids: dict[int, str], key: Path,
                          env: dict[str, str]) -> None:
    """Run ``emining import`` of ``path`` until it exits 0; record what each run reported."""
    done: set[int] = set()
    while True:  # until this file is in: the stop flag only ends the rounds
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from infra.cli import main; main()", "import", str(path),
            "--as", world.firm.org, "--key", str(key), "--json", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await process.communicate()
        if process.returncode == 0:
            summary = json.loads(out)
            assert summary["published"] + summary["already_published"] == len(ids), summary
            for line, event_id in ids.items():
                if line not in done:
                    world.ledger.ack("import", event_id, started)
            return
        text = err.decode(errors="replace")
        message = " ".join(text[text.rfind("error: "):].split())
        found = re.search(r"Acknowledged: \d+ row\(s\) \(lines ([0-9, -]+)\)", message)
        acked = _ranges(found.group(1)) if found else set()
        for line in sorted(acked - done):
            world.ledger.ack("import", ids[line], started)
        done |= acked
        for line, event_id in ids.items():
            if line not in done:
                world.ledger.fail("import", event_id, started, message or text[-300:])
        await asyncio.sleep(1.0)


async def import_client(world: World) -> None:
    """``emining import`` of a 40-row file per round; a failed run is re-run (same file: same
    event ids, nothing twice) until the file is in, as a scheduler would."""
    settings = world.client_settings("import")
    key = world.root / "import-keys" / key_file_name(world.firm.org)
    if not key.exists():
        write_key(world.firm, key)
    env = {**os.environ, **access_env(world.access), "EMINING_STATE_DIR": str(settings.state_dir),
           "EMINING_TRUST_ANCHOR": b64(world.operator.public_key),
           "EMINING_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S), "PYTHONPATH": str(ROOT)}
    round_no = 0
    while not world.stop.is_set():
        round_no += 1
        path = world.root / "import-files" / f"round-{round_no:04d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"type": MILESTONE, "data": world.next_milestone()})
                                + "\n" for _ in range(40)))
        ids: dict[int, str] = {}
        for item in read_rows(path, None):
            assert isinstance(item, Row)
            event_id = _with_id(world.firm.org, item).draft.event_id
            assert event_id is not None
            ids[item.line] = event_id
        await import_until_in(world, path, ids, key, env)
        await asyncio.sleep(pause())


async def gateway_client(world: World, base_url: str, token: str) -> None:
    """The gateway over HTTP: one unsigned event per request, signed custodially."""
    async with httpx.AsyncClient(base_url=base_url, timeout=3 * CLIENT_TIMEOUT_S) as http:
        while not world.stop.is_set():
            event_id = str(uuid.uuid4())
            data = world.next_milestone()
            body = {"type": MILESTONE, "subject": data["project_id"], "data": data,
                    "id": event_id}
            started = time.monotonic()
            try:
                response = await http.post("/v1/events", json=body,
                                            headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                world.ledger.fail("gateway", event_id, started, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.5)
                continue
            if response.status_code == 202:
                answer = response.json()
                world.ledger.ack("gateway", event_id, started, source=answer["source"],
                                 sequence=answer["sequence"])
                await asyncio.sleep(pause())
            else:
                world.ledger.fail("gateway", event_id, started,
                                  f"{response.status_code}: {response.text[:200]}")
                await asyncio.sleep(0.5)


# --------------------------------------------------------------------------- cluster actions


async def partition_leaders(access: KafkaAccess) -> dict[int, int]:
    async with admin_client(access, 10.0) as client:
        [meta] = await client.describe_topics([PROJECTS])
    return {p["partition"]: p["leader"] for p in meta["partitions"]}


async def wait_whole(world: World, what: str) -> float:
    """Until every node is alive and every partition of the topic has three in-sync copies."""
    started = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            alive = all(pid is not None for pid in local_kafka.node_pids(world.settings).values())
            async with admin_client(world.access, 5.0) as client:
                [meta] = await client.describe_topics([PROJECTS])
            if alive and all(len(p["isr"]) == 3 and p["leader"] >= 0
                             for p in meta["partitions"]):
                return time.monotonic() - started
        if time.monotonic() - started > HEAL_TIMEOUT_S:
            raise RuntimeError(
                f"the cluster was not whole again {HEAL_TIMEOUT_S:.0f}s after {what}")
        await asyncio.sleep(0.5)


def start(world: World, node_id: int) -> None:
    local_kafka.start_node(world.settings, node_id, owner_pid=os.getpid(), wrap=world.net.wrap)


async def leader_kill(world: World) -> list[tuple[str, float]]:
    leader = (await partition_leaders(world.access))[0]
    at = time.monotonic()
    await asyncio.to_thread(local_kafka.stop_node, world.settings, leader, kill=True)
    log.info("fault", action="SIGKILL partition leader", node=leader)
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(start, world, leader)
    return [(f"SIGKILL node {leader} (leader of {PROJECTS}[0])", at)]


async def controller_kill(world: World) -> list[tuple[str, float]]:
    controller = local_kafka.active_controller(world.settings)
    assert controller is not None, "no active controller"
    at = time.monotonic()
    await asyncio.to_thread(local_kafka.stop_node, world.settings, controller, kill=True)
    log.info("fault", action="SIGKILL active controller", node=controller)
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(start, world, controller)
    return [(f"SIGKILL node {controller} (active controller)", at)]


async def rolling_restart(world: World) -> list[tuple[str, float]]:
    faults = []
    for node_id in (1, 2, 3):
        at = time.monotonic()
        await asyncio.to_thread(local_kafka.stop_node, world.settings, node_id, timeout_s=30.0)
        faults.append((f"restart node {node_id}", at))
        await asyncio.to_thread(start, world, node_id)
        await wait_whole(world, f"restarting node {node_id}")
    return faults


async def full_restart(world: World) -> list[tuple[str, float]]:
    at = time.monotonic()
    await asyncio.to_thread(local_kafka.down, world.settings, 30.0)
    await asyncio.sleep(2.0)
    await asyncio.to_thread(cluster_up, world)
    return [("stop all three, start all three", at)]


async def partition(world: World) -> list[tuple[str, float]]:
    node_id = (await partition_leaders(world.access))[0]
    at = time.monotonic()
    world.net.cut(node_id)
    log.info("fault", action="partition", node=node_id)
    await asyncio.sleep(2 * DOWN_S)  # past the broker session timeout: it is fenced
    world.net.heal(node_id)
    return [(f"cut node {node_id} (leader of {PROJECTS}[0]) off for {2 * DOWN_S:.0f}s", at)]


FAULTS: dict[str, Callable[[World], Awaitable[list[tuple[str, float]]]]] = {
    "leader_kill": leader_kill, "controller_kill": controller_kill,
    "rolling_restart": rolling_restart, "full_restart": full_restart, "partition": partition,
}


def cluster_up(world: World) -> None:
    local_kafka.up(world.settings, owner_pid=os.getpid(), brokers=3,
                   hosts={i: host_of(i) for i in (1, 2, 3)}, wrap=world.net.wrap)


# --------------------------------------------------------------------------- checker


def recovery(sends: list[Send], faults: list[tuple[str, float]]) -> float | None:
    """Per fault, seconds from the fault to the client's first acknowledgement after its last
    failure in that fault's window (up to the next fault), or after the fault if it never
    failed; the worst of them. None: a fault was never followed by an acknowledgement."""
    worst = 0.0
    for index, (_, at) in enumerate(faults):
        until = faults[index + 1][1] if index + 1 < len(faults) else float("inf")
        failures = [s.done for s in sends if not s.acked and at <= s.done < until]
        since = max(failures, default=at)
        after = [s.done - at for s in sends if s.acked and s.started >= at and s.done >= since]
        if not after:
            return None
        worst = max(worst, min(after))
    return round(worst, 2)


async def read_to_end(access: KafkaAccess, topics: list[str]) -> list[Any]:
    """Every record of ``topics`` from offset 0 to their current ends (``transport.read``: ends
    by position, so a partition ending in a transaction marker is done too; stalls bounded)."""
    records: list[Any] = []
    async for batch in read_log_to_end(access, topics, timeout_s=60.0):
        records.extend(batch)
    return records


def expected_alerts(world: World, holds: list[Any]) -> set[AlertKey]:
    """What the rules say the holds on the log raise (``customs_hold``): one alert to the
    customs office that holds (the event's organisation) and one to the exporter (the firm
    the registry gives that USCC), each once."""
    firms = {OPERATOR: world.firm.org}
    registered = {world.firm.org, world.customs.org}
    expected: set[AlertKey] = set()
    for record in holds:
        env = from_record(record.key, record.value, tuple(record.headers))
        assert isinstance(env.data, CustomsHeld), env.type
        for recipient in (org_of(env.source), firms.get(env.data.exporter_uscc)):
            if recipient in registered:
                expected.add((AlertRule.CUSTOMS_HOLD.value, env.id, recipient))
    return expected


async def outbox_left(store_url: str) -> tuple[int, int]:
    """(alerts raised, of them not yet delivered) in the views store's alert outbox."""
    store = ViewStore(store_url)
    await store.open(check_version=False)
    try:
        async with store.reading() as (conn, _):
            table = alert_tables.alerts
            raised = (await conn.execute(
                select(func.count()).select_from(table))).scalar_one()
            left = (await conn.execute(select(func.count()).select_from(table).where(
                table.c.delivered_at.is_(None)))).scalar_one()
        return int(raised), int(left)
    finally:
        await store.close()


def transient_gap(alert: AlertRaised, on_log: set[str]) -> bool:
    """A security alert for a record held for a gap in its source's chain (``sequence_gap``),
    where that record is on the log (its DLQ id names its place) and the audit finds no gap:
    the missing predecessor landed later (a failover delayed it), a false alarm."""
    return (alert.rule is AlertRule.SECURITY_REJECTION
            and alert.details.get("reason") == "sequence_gap" and alert.cause.key in on_log)


async def alerts_check(world: World, records: list[Any]) -> dict[str, Any]:
    """Once the delivery worker emptied the outbox: every alert the holds on the log should
    raise is on its recipient's topic exactly once, none is there that should not be (the
    platform's topic included: security alerts), and each verifies under the platform key.
    Counted from the topics, never from the outbox. Security alerts for records that were held
    for a gap and are on the log (``transient_gap``) are counted apart from the other extras."""
    began = time.monotonic()
    holds = [r for r in records if r.topic == SHIPMENTS]
    on_log = {f"{r.topic}:{r.partition}:{r.offset}" for r in records}
    config = world.views
    assert config is not None
    started = time.monotonic()
    raised, left = await outbox_left(config.store_url)
    while left and time.monotonic() - started < ALERTS_WAIT_S and not world.views_done():
        await asyncio.sleep(0.3)
        raised, left = await outbox_left(config.store_url)
    settled_s = time.monotonic() - started
    verifier = AlertVerifier([world.operator.public_key], PLATFORM_ORG)
    orgs = {alerts_topic(o): o for o in (world.customs.org, world.firm.org, PLATFORM_ORG)}
    copies: Counter[AlertKey] = Counter()
    found: dict[AlertKey, AlertRaised] = {}
    unverified: list[str] = []
    for record in await read_to_end(world.access, sorted(orgs)):
        try:
            env = verifier.check(record.key, record.value, record.headers, orgs[record.topic])
        except ContractError as exc:
            unverified.append(f"{record.topic}[{record.partition}]@{record.offset}: {exc}"[:300])
            continue
        alert = env.data
        assert isinstance(alert, AlertRaised)
        key = (alert.rule.value, alert.cause.key.rpartition("#")[2], alert.recipient)
        copies[key] += 1
        found[key] = alert
    expected = expected_alerts(world, holds)
    ledger = world.alerts
    new = expected - ledger.counted
    duplicated = {k for k, n in copies.items() if n > 1} - ledger.duplicated
    unexpected = set(copies) - expected - ledger.extra
    ledger.counted |= new
    ledger.duplicated |= duplicated
    ledger.extra |= unexpected
    gaps = {k for k in unexpected if transient_gap(found[k], on_log)}
    extra = unexpected - gaps
    delivered = sum(1 for k in new if copies[k] >= 1)
    return {
        "trigger_events": len({k[1] for k in new}),
        "expected": len(new),
        "delivered": delivered,
        "missing": len(new) - delivered,
        "duplicated": len(duplicated),
        "extra": len(extra),
        "unverified": len(unverified),
        "first_unverified": unverified[:3],
        "first_extra": [list(k) for k in sorted(extra)[:3]],
        "transient_gap_alerts": len(gaps),
        "transient_gap_records": len({k[1] for k in gaps}),
        "transient_gap_recipients": dict(Counter(k[2] for k in gaps)),
        "outbox": {"raised": raised, "undelivered": left, "settled_s": round(settled_s, 1)},
        "on_topics": {"alerts": sum(copies.values()), "distinct": len(copies)},
        "check_s": round(time.monotonic() - began, 2),
    }


async def views_check(world: World) -> dict[str, Any]:
    """Once the live views consumer applied everything on the log: its views equal a rebuild
    from offset 0 (``emining views rebuild``), row for row (digest)."""
    config = world.views
    assert config is not None
    consumer = AIOKafkaConsumer(**world.access.aiokafka())
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in config.topics.consumed()
               for p in await partitions_of(world.access, t)]
        ends = {(tp.topic, tp.partition): o
                for tp, o in (await consumer.end_offsets(tps)).items() if o}
    finally:
        await consumer.stop()
    store = ViewStore(config.store_url)
    await store.open(check_version=False)
    started = time.monotonic()
    try:
        while True:
            stored = await offsets(store)
            if all(stored.get(k, 0) >= v for k, v in ends.items()):
                break
            if time.monotonic() - started > HEAL_TIMEOUT_S or world.views_done():
                return {"caught_up": False, "equal_to_rebuild": False,
                        "consumer_ended": world.views_done(),
                        "behind": {f"{t}[{p}]": v - stored.get((t, p), 0)
                                   for (t, p), v in ends.items()}}
            await asyncio.sleep(0.3)
        live = await digest(store)
    finally:
        await store.close()
    rebuilt = await rebuild(config)
    return {"caught_up": True, "caught_up_s": round(time.monotonic() - started, 1),
            "equal_to_rebuild": rebuilt.digest == live, "rows": dict(live.rows)}


async def check(world: World, name: str, faults: list[tuple[str, float]],
                healed_s: float, seconds: float) -> dict[str, Any]:
    records = await read_to_end(world.access, [PROJECTS, SHIPMENTS])
    by_id: Counter[str] = Counter()
    by_link: Counter[tuple[str, int]] = Counter()
    for record in records:
        headers = dict(record.headers)
        by_id[headers["ce_id"].decode()] += 1
        by_link[(headers["ce_source"].decode(), int(headers["ce_sequence"].decode()))] += 1
    report = await verify_log(world.access, [world.operator.public_key], workers=0)
    mine = [s for s in world.ledger.sends if s.scenario == name]
    clients: dict[str, dict[str, Any]] = {}
    for client in CLIENTS:
        sends = [s for s in mine if s.client == client]
        acked = {s.event_id for s in sends if s.acked}
        failed = {s.event_id for s in sends if not s.acked} - acked
        clients[client] = {
            "acknowledged": len(acked),
            "lost": sum(1 for e in acked if by_id[e] == 0),
            "duplicated": sum(1 for e in acked | failed if by_id[e] > 1),
            "reported_failed": len(failed),
            "failed_then_landed_once": sum(1 for e in failed if by_id[e] == 1),
            "failed_not_on_log": sum(1 for e in failed if by_id[e] == 0),
            "recovery_s": recovery(sends, faults),
            "first_error": next((s.error for s in sends if not s.acked), None),
        }
    return {
        "scenario": name,
        "faults": [{"action": what, "at_s": round(at - faults[0][1], 2)} for what, at in faults],
        "seconds": round(seconds, 1),
        "cluster_whole_after_s": round(healed_s, 1),
        "clients": clients,
        "acknowledged": sum(c["acknowledged"] for c in clients.values()),
        "lost": sum(c["lost"] for c in clients.values()),
        "duplicated": sum(c["duplicated"] for c in clients.values()),
        "recovery_s": max((c["recovery_s"] for c in clients.values()
                           if c["recovery_s"] is not None), default=None),
        "all_recovered": all(c["recovery_s"] is not None for c in clients.values()),
        "log": {"records": len(records), "duplicate_ids": sum(1 for n in by_id.values() if n > 1),
                "duplicate_source_sequences": sum(1 for n in by_link.values() if n > 1)},
        "views": await views_check(world),
        "alerts": await alerts_check(world, records),
        "audit": {"ok": report.ok, "violations": len(report.violations),
                  "first": [f.to_json() if hasattr(f, "to_json") else str(f)
                            for f in report.violations[:3]]},
    }


# --------------------------------------------------------------------------- main


async def scenario(world: World, name: str, base_url: str, token: str) -> dict[str, Any]:
    world.ledger.scenario = name
    world.stop = asyncio.Event()
    began = time.monotonic()
    tasks = [asyncio.create_task(sdk_client(world), name="sdk"),
             asyncio.create_task(import_client(world), name="import"),
             asyncio.create_task(gateway_client(world, base_url, token), name="gateway")]
    await asyncio.sleep(WARMUP_S)
    log.info("scenario_fault", scenario=name)
    faults = await FAULTS[name](world)
    await wait_whole(world, name)
    healed = time.monotonic() - faults[0][1]
    await asyncio.sleep(SETTLE_S)
    await all_recovered(world, name, faults)
    world.stop.set()
    done, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
    for task in pending:
        task.cancel()
    crashed = {t.get_name(): repr(t.exception()) for t in done
               if not t.cancelled() and t.exception() is not None}
    result = await check(world, name, faults, healed, time.monotonic() - began)
    result["client_crashes"] = crashed
    result["clients_stuck"] = sorted(t.get_name() for t in pending)
    return result


async def register_on_log(world: World) -> None:
    """The projects the milestones are about, registered on the log first (as in production):
    the audit then judges every milestone a legal step of its project."""
    cls = model_for("pk.emining.project.registered")
    example = cls.EXAMPLE  # type: ignore[attr-defined]
    drafts = [Draft(cls.model_validate({**example, "project_id": project}))
              for project in dict.fromkeys(REGISTERED_PROJECTS)]
    async with Publisher(kafka=world.access, key=world.firm,
                         source=f"{world.firm.org}/setup", state_dir=world.root / "setup",
                         timeout_s=30.0) as pub:
        await pub.publish_many(drafts)


async def all_recovered(world: World, name: str, faults: list[tuple[str, float]]) -> None:
    """Until every client has an acknowledgement after its last failure (bounded): a slow
    client (an import run is a new process) is measured, not cut off."""
    deadline = time.monotonic() + RECOVERY_WAIT_S
    while time.monotonic() < deadline:
        mine = [s for s in world.ledger.sends if s.scenario == name]
        if all(recovery([s for s in mine if s.client == c], faults) is not None
               for c in CLIENTS):
            return
        await asyncio.sleep(0.5)


async def serve_gateway(world: World) -> tuple[uvicorn.Server, asyncio.Task[None], str, str]:
    settings = world.client_settings("gateway")
    write_key(world.firm, settings.custody_path / key_file_name(world.firm.org))
    token = ApiKeyStore(settings.api_keys_path).issue(world.firm.org)
    await register_projects(settings, REGISTERED_PROJECTS)
    app = build_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, f"http://127.0.0.1:{port}", token


async def main_async(out: Path, names: list[str], root: Path) -> int:
    net = Network()
    net.build(3)
    settings = Settings(kafka_bootstrap=None, state_dir=root / "cluster", kafka_username=None,
                        kafka_password=None, kafka_password_file=None, kafka_ca_file=None,
                        kafka_security="scram")
    world = World(settings=settings, access=None, root=root,  # type: ignore[arg-type]
                  operator=PrivateKey.generate("urn:emining:xx:platform:operator"),
                  firm=PrivateKey.generate(unique_org("cn", "ent", "faults-firm")),
                  customs=PrivateKey.generate(CUSTOMS), net=net)
    try:
        started = time.monotonic()
        await asyncio.to_thread(cluster_up, world)
        world.access = kafka_access(settings)
        log.info("cluster_up", seconds=round(time.monotonic() - started, 1),
                 bootstrap=world.access.bootstrap)
        await apply_topics(world.access, catalogue(6), timeout_s=30.0)
        customs = next(o for o in registry_seed().organisations if o.id == CUSTOMS)
        await publish_registry(world.access, world.operator, root / "operator-chains",
                               [firm_org(world.firm.org), customs],
                               {world.firm.org: world.firm.public_key,
                                CUSTOMS: world.customs.public_key})
        # as `emining topics apply` makes them: one per registered organisation, the platform's
        await apply_topics(world.access, [alerts_topic_spec(o) for o in sorted(
            {PLATFORM_ORG, world.firm.org, CUSTOMS})], timeout_s=30.0)
        await register_on_log(world)
        world.views = ViewsConfig(
            kafka=world.access, store_url=f"sqlite:///{root / 'views.sqlite'}",
            trust_anchor=(world.operator.public_key,), group_id="faults.views",
            timeout_s=CLIENT_TIMEOUT_S)
        views_stop = asyncio.Event()
        # the alerts as `emining views run` hosts them: rules, outbox, delivery as the platform
        views_settings = world.client_settings("views").model_copy(
            update={"operator_key_file": root / "views" / "operator.key"})
        write_key(world.operator, views_settings.operator_key_path)
        views_task = asyncio.create_task(
            run_views_forever(world.views, views_stop,
                              alerts=lambda: alerts_plugin(views_settings)),
            name="views")
        world.views_task = views_task
        server, serving, base_url, token = await serve_gateway(world)
        try:
            for name in names:
                began = time.monotonic()
                result = await scenario(world, name, base_url, token)
                (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
                log.info("scenario_done", scenario=name,
                         seconds=round(time.monotonic() - began, 1),
                         acknowledged=result["acknowledged"], lost=result["lost"],
                         duplicated=result["duplicated"], recovery_s=result["recovery_s"],
                         alerts={k: result["alerts"][k] for k in (
                             "expected", "delivered", "missing", "duplicated", "extra")})
        finally:
            server.should_exit = True
            await serving
            views_stop.set()
            await asyncio.wait_for(views_task, 60)
    finally:
        await asyncio.to_thread(local_kafka.down, settings, 20.0)
        net.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="state of this run")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args()
    configure_logging()
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n for n in args.scenarios.split(",") if n]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {sorted(unknown)}")
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            parser.error(f"no `{tool}` on PATH")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(main_async(args.out, names, args.root))


if __name__ == "__main__":
    sys.exit(main())


