"""The local three-node cluster: its plan, its nodes, its quorum leader."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local_kafka.config import (
    java_command,
    quorum_voters,
    render_server_properties,
    security_properties,
)
from infra.local_kafka.credentials import Credentials, _ensure_credentials
from infra.local_kafka.errors import (
    BrokerError,
    BrokerStartError,
    BrokerStartTimeoutError,
    PortInUseError,
)
from infra.local_kafka.install import ensure_jars, require_tool
from infra.local_kafka.node import (
    _format_storage,
    _is_our_broker,
    _live_pid,
    _log_tail_text,
    _pick_free_port,
    _read_pid,
    _spawn_detached,
    _terminate,
    port_is_free,
)
from infra.local_kafka.probes import broker_count, local_access
from infra.local_kafka.state import HOST, NODE_ID, Layout, NodePorts, _locked, _write_atomic

if TYPE_CHECKING:
    from infra.settings import Settings
import structlog

log = structlog.get_logger()


Wrap = Callable[[int], list[str]]
"""A command prefix per node id, put before ``java`` (the fault tests: ``nsenter --net=…``)."""


def load_cluster(layout: Layout) -> list[NodePorts] | None:
    """The nodes of the local cluster in this state dir (None: a single node or nothing)."""
    try:
        data = json.loads(layout.cluster_file.read_text("utf-8"))
        return [
            NodePorts(node_id=int(n["node_id"]), host=str(n["host"]), broker=int(n["broker"]),
                      controller=int(n["controller"]))
            for n in data["nodes"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def local_size(settings: Settings) -> int:
    """How many nodes the local broker of this state dir has (1 unless it is a cluster)."""
    nodes = load_cluster(Layout.of(settings))
    return 1 if nodes is None else len(nodes)


def plan_cluster(
    size: int, taken: set[int] | None = None, hosts: Mapping[int, str] | None = None
) -> list[NodePorts]:
    """Node ids 1..size, each with two free ports of its own (pure but for the port probes)."""
    used = set(taken or ())
    nodes: list[NodePorts] = []
    for node_id in range(1, size + 1):
        broker = _pick_free_port(used)
        used.add(broker)
        controller = _pick_free_port(used)
        used.add(controller)
        nodes.append(NodePorts(node_id, (hosts or {}).get(node_id, HOST), broker, controller))
    return nodes


def _ensure_cluster(
    layout: Layout, size: int, hosts: Mapping[int, str] | None
) -> list[NodePorts]:
    nodes = load_cluster(layout)
    if nodes is not None:
        if len(nodes) != size:
            raise BrokerError(
                f"the local cluster in {layout.root} has {len(nodes)} nodes, not {size}: run"
                " `emining kafka reset --yes` to start over with another size"
            )
        return nodes
    nodes = plan_cluster(size, hosts=hosts)
    layout.root.mkdir(parents=True, exist_ok=True)
    _write_atomic(layout.cluster_file, json.dumps(
        {"brokers": size, "nodes": [asdict(n) for n in nodes]}, indent=2) + "\n")
    log.info("cluster_ports_picked", nodes=[asdict(n) for n in nodes])
    return nodes


def _cluster_bootstrap(nodes: Sequence[NodePorts]) -> str:
    return ",".join(n.bootstrap for n in nodes)


def _start_node(
    settings: Settings, layout: Layout, node: NodePorts, nodes: Sequence[NodePorts], *,
    credentials: Credentials, java: str, libs: Path, owner_pid: int | None, wrap: Wrap | None,
) -> int:
    here = _prepare_node(settings, layout, node, nodes, credentials=credentials)
    _format_storage(settings, here, java=java, libs=libs, credentials=credentials)
    return _spawn_node(settings, here, node, java=java, libs=libs, owner_pid=owner_pid,
                       wrap=wrap)


def _prepare_node(
    settings: Settings, layout: Layout, node: NodePorts, nodes: Sequence[NodePorts], *,
    credentials: Credentials,
) -> Layout:
    """Check the node's ports and write its ``server.properties``; its layout."""
    here = layout.for_node(node.node_id)
    here.pid_file.unlink(missing_ok=True)
    if node.host == HOST:
        for role, port in (("client", node.broker), ("controller", node.controller)):
            if not port_is_free(port):
                raise PortInUseError(
                    f"port {port} (node {node.node_id}'s {role} listener, persisted in"
                    f" {layout.cluster_file}) is in use by another process"
                )
    here.data_dir.mkdir(parents=True, exist_ok=True)
    here.logs_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(
        here.server_properties,
        render_server_properties(
            ports=node.ports, data_dir=here.data_dir, node_id=node.node_id, host=node.host,
            voters=quorum_voters(nodes), replication=min(3, len(nodes)),
            security=security_properties(settings.kafka_security, credentials, layout.tls_dir,
                                         reauth_ms=int(settings.kafka_reauth_s * 1000)),
        ),
        private=True,
    )
    return here


def _spawn_node(
    settings: Settings, here: Layout, node: NodePorts, *, java: str, libs: Path,
    owner_pid: int | None, wrap: Wrap | None,
) -> int:
    cmd = java_command(
        java=java, libs=libs, heap=settings.kafka_heap, main_class="kafka.Kafka",
        args=[str(here.server_properties)], logs_dir=here.logs_dir,
    )
    if wrap is not None:
        cmd = [*wrap(node.node_id), *cmd]
    pid = _spawn_detached(cmd, cwd=here.node_root, output=here.stdout_file, owner_pid=owner_pid)
    _write_atomic(here.pid_file, f"{pid}\n")
    log.info("cluster_node_started", node_id=node.node_id, pid=pid, bootstrap=node.bootstrap)
    return pid


def _wait_cluster(
    settings: Settings, layout: Layout, nodes: Sequence[NodePorts], credentials: Credentials,
    *, expect: int,
) -> None:
    """Until a metadata request lists ``expect`` live brokers; a node that dies fails it."""
    access = local_access(settings, _cluster_bootstrap(nodes), credentials)
    deadline = time.monotonic() + settings.kafka_start_timeout_s
    while True:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            if broker_count(access, 2.0) >= expect:
                return
        pids = {n.node_id: _read_pid(layout.for_node(n.node_id)) for n in nodes}
        for node_id, pid in pids.items():
            here = layout.for_node(node_id)
            if pid is not None and not _is_our_broker(pid, here):
                here.pid_file.unlink(missing_ok=True)
                raise BrokerStartError(
                    f"node {node_id} of the local cluster (pid {pid}) exited before the"
                    " cluster was ready:\n" + _log_tail_text(here)
                )
        if time.monotonic() >= deadline:
            raise BrokerStartTimeoutError(
                f"the local cluster did not list {expect} live brokers within"
                f" {settings.kafka_start_timeout_s:.0f}s (EMINING_KAFKA_START_TIMEOUT_S); see"
                f" the logs under {layout.root / 'nodes'}"
            )
        time.sleep(0.3)


def start_node(
    settings: Settings, node_id: int, *, owner_pid: int | None = None, wrap: Wrap | None = None
) -> int:
    """Start one stopped node of the local cluster (no wait); returns its pid."""
    layout = Layout.of(settings)
    nodes = load_cluster(layout)
    if nodes is None:
        raise BrokerError(f"no local cluster in {layout.root}: `emining kafka up --brokers 3`")
    node = next(n for n in nodes if n.node_id == node_id)
    credentials = _ensure_credentials(layout)
    with _locked(layout.lock_file):
        pid = _live_pid(layout.for_node(node_id))
        if pid is not None:
            return pid
        return _start_node(settings, layout, node, nodes, credentials=credentials,
                           java=require_tool("java"), libs=ensure_jars(settings),
                           owner_pid=owner_pid, wrap=wrap)


def stop_node(
    settings: Settings, node_id: int, *, kill: bool = False, timeout_s: float = 30.0
) -> int | None:
    """Stop one node: SIGKILL at once with ``kill``, else SIGTERM (SIGKILL after timeout)."""
    here = Layout.of(settings).for_node(node_id)
    pid = _live_pid(here)
    if pid is None:
        return None
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and _is_our_broker(pid, here):
            time.sleep(0.05)
    else:
        _terminate(pid, here, timeout_s=timeout_s)
    here.pid_file.unlink(missing_ok=True)
    log.info("cluster_node_stopped", node_id=node_id, pid=pid, killed=kill)
    return pid


def node_pids(settings: Settings) -> dict[int, int | None]:
    """Each node's pid if alive (a single node is node 1)."""
    layout = Layout.of(settings)
    nodes = load_cluster(layout)
    if nodes is None:
        return {NODE_ID: _live_pid(layout)}
    return {n.node_id: _live_pid(layout.for_node(n.node_id)) for n in nodes}


def quorum_leader(data_dirs: Mapping[int, Path]) -> int | None:
    """The KRaft leader as the nodes last persisted it (``__cluster_metadata-0/quorum-state``).

    Each voter writes its election state there on every change; the highest epoch that names a
    leader wins (a node cut off from the quorum still holds an old epoch).
    """
    best: tuple[int, int] | None = None
    for data_dir in data_dirs.values():
        try:
            state = json.loads((data_dir / "__cluster_metadata-0" / "quorum-state").read_text())
            leader, epoch = int(state["leaderId"]), int(state["leaderEpoch"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if leader >= 0 and (best is None or epoch > best[1]):
            best = (leader, epoch)
    return None if best is None else best[0]


def active_controller(settings: Settings) -> int | None:
    """The node id leading the local KRaft quorum, from the live nodes' own records."""
    layout = Layout.of(settings)
    pids = node_pids(settings)
    dirs = {
        node_id: (layout if load_cluster(layout) is None else layout.for_node(node_id)).data_dir
        for node_id, pid in pids.items() if pid is not None
    }
    return quorum_leader(dirs)
