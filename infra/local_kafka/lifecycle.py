"""``up``, ``down`` and ``reset`` of the local broker or cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local_kafka.cluster import (
    Wrap,
    _cluster_bootstrap,
    _ensure_cluster,
    _prepare_node,
    _spawn_node,
    _wait_cluster,
    load_cluster,
    local_size,
)
from infra.local_kafka.config import (
    java_command,
    kafka_version,
    render_server_properties,
    security_properties,
)
from infra.local_kafka.credentials import _ensure_credentials, _same_security, load_credentials
from infra.local_kafka.errors import BrokerError, ExternalBrokerError, LegacyStorageError
from infra.local_kafka.install import ensure_jars, require_tool
from infra.local_kafka.node import (
    _format_storage,
    _live_pid,
    _spawn_detached,
    _terminate,
    _wait_ready,
    ensure_cluster_id,
    ensure_ports,
    ensure_tls,
    load_ports,
)
from infra.local_kafka.probes import local_access
from infra.local_kafka.state import (
    CLUSTER_SIZES,
    NODE_ID,
    BrokerStatus,
    Layout,
    NodePorts,
    Phase,
    _locked,
    _write_atomic,
)
from infra.local_kafka.status import _external_status, status
from transport.errors import BrokerUnreachableError

if TYPE_CHECKING:
    from infra.settings import Settings
import structlog

log = structlog.get_logger()


def _up_cluster(
    settings: Settings, layout: Layout, size: int, on_phase: Phase | None,
    owner_pid: int | None, hosts: Mapping[int, str] | None, wrap: Wrap | None,
) -> BrokerStatus:
    with _locked(layout.lock_file):
        if _live_pid(layout) is not None or (layout.data_dir / "meta.properties").exists():
            raise BrokerError(
                f"{layout.root} holds a single-node broker: run `emining kafka reset --yes`"
                f" before `emining kafka up --brokers {size}` (or use another EMINING_STATE_DIR)"
            )
        nodes = _ensure_cluster(layout, size, hosts)
        credentials = _ensure_credentials(layout)
        if settings.kafka_security == "scram-tls":
            ensure_tls(layout)
        libs = ensure_jars(settings, on_phase)
        java = require_tool("java")
        stopped: list[tuple[NodePorts, Layout]] = []
        for node in nodes:
            here = layout.for_node(node.node_id)
            pid = _live_pid(here)
            if pid is not None:
                _same_security(settings, here, pid)
                continue
            stopped.append((node, _prepare_node(settings, layout, node, nodes,
                                                credentials=credentials)))
        ensure_cluster_id(layout)  # one id for all, before the nodes format at once
        if on_phase is not None and stopped:
            on_phase(f"formatting and starting {len(stopped)} node(s) of {size}")
        with ThreadPoolExecutor(max_workers=max(1, len(stopped))) as pool:  # one JVM each
            list(pool.map(lambda item: _format_storage(
                settings, item[1], java=java, libs=libs, credentials=credentials), stopped))
        for node, here in stopped:
            _spawn_node(settings, here, node, java=java, libs=libs, owner_pid=owner_pid,
                        wrap=wrap)
        if on_phase is not None:
            on_phase(f"waiting for {size} brokers to join the cluster")
        started = time.monotonic()
        _wait_cluster(settings, layout, nodes, credentials, expect=size)
        log.info("cluster_ready", brokers=size, bootstrap=_cluster_bootstrap(nodes),
                 seconds=round(time.monotonic() - started, 2))
    return status(settings)


def up(
    settings: Settings, on_phase: Phase | None = None, *, owner_pid: int | None = None,
    brokers: int | None = None, hosts: Mapping[int, str] | None = None,
    wrap: Wrap | None = None,
) -> BrokerStatus:
    """Make sure a broker (``brokers`` 3: a local cluster) is ready and return where; idempotent.

    With ``EMINING_KAFKA_BOOTSTRAP`` set nothing is started: the external cluster must answer.
    ``owner_pid`` ties newly started nodes' life to that process (tests use their own pid).
    ``brokers`` None keeps what the state dir holds (a single node when new). ``hosts`` (node id
    → listen address, default 127.0.0.1) and ``wrap`` serve the fault tests' network namespaces.
    """
    if settings.kafka_bootstrap:
        if on_phase is not None:
            on_phase(f"checking the external Kafka cluster at {settings.kafka_bootstrap}")
        found = _external_status(settings, settings.kafka_bootstrap)
        if not found.ready:
            raise BrokerUnreachableError(
                f"no Kafka broker answers at {settings.kafka_bootstrap}"
                " (EMINING_KAFKA_BOOTSTRAP): is it running and reachable from here?"
            )
        return found

    layout = Layout.of(settings)
    layout.root.mkdir(parents=True, exist_ok=True)
    size = local_size(settings) if brokers is None else brokers
    if size not in CLUSTER_SIZES:
        raise BrokerError(f"--brokers {size}: the local cluster has 1 or 3 nodes")
    if size > 1:
        return _up_cluster(settings, layout, size, on_phase, owner_pid, hosts, wrap)
    if load_cluster(layout) is not None:
        raise BrokerError(
            f"{layout.root} holds a local cluster of {local_size(settings)} nodes: run"
            " `emining kafka reset --yes` before starting a single node there"
        )
    return _up_single(settings, layout, on_phase, owner_pid)


def _up_single(
    settings: Settings, layout: Layout, on_phase: Phase | None, owner_pid: int | None
) -> BrokerStatus:
    with _locked(layout.lock_file):
        pid = _live_pid(layout)
        ports = load_ports(layout)
        credentials = load_credentials(layout)
        if credentials is None and (layout.data_dir / "meta.properties").exists():
            # Before the pid file is touched: `kafka reset` must still find a running broker.
            raise LegacyStorageError(
                f"the local broker's data in {layout.data_dir} was made before the broker had"
                " credentials (no admin SCRAM user): run `emining kafka reset` to start empty"
            )
        if pid is not None and ports is not None and credentials is not None:
            _same_security(settings, layout, pid)
            if on_phase is not None:
                on_phase(f"waiting for the running broker (pid {pid})")
            _wait_ready(settings, layout, pid=pid,
                        access=local_access(settings, ports, credentials))
            return status(settings)
        layout.pid_file.unlink(missing_ok=True)
        credentials = _ensure_credentials(layout)
        if settings.kafka_security == "scram-tls":
            ensure_tls(layout)

        libs = ensure_jars(settings, on_phase)
        java = require_tool("java")
        ports = ensure_ports(layout)
        layout.data_dir.mkdir(parents=True, exist_ok=True)
        layout.logs_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(
            layout.server_properties,
            render_server_properties(
                ports=ports, data_dir=layout.data_dir,
                security=security_properties(settings.kafka_security, credentials,
                                             layout.tls_dir,
                                             reauth_ms=int(settings.kafka_reauth_s * 1000)),
            ),
            private=True,  # it holds the admin's and the controller's passwords
        )
        if on_phase is not None and not (layout.data_dir / "meta.properties").exists():
            on_phase("formatting KRaft storage")
        _format_storage(settings, layout, java=java, libs=libs, credentials=credentials)

        if on_phase is not None:
            on_phase(f"starting Kafka {kafka_version()} on {ports.bootstrap}")
        cmd = java_command(
            java=java, libs=libs, heap=settings.kafka_heap, main_class="kafka.Kafka",
            args=[str(layout.server_properties)], logs_dir=layout.logs_dir,
        )
        started = time.monotonic()
        pid = _spawn_detached(
            cmd, cwd=layout.root, output=layout.stdout_file, owner_pid=owner_pid
        )
        _write_atomic(layout.pid_file, f"{pid}\n")
        _wait_ready(settings, layout, pid=pid,
                    access=local_access(settings, ports, credentials))
        log.info(
            "broker_started", pid=pid, bootstrap=ports.bootstrap, state_dir=str(layout.root),
            seconds=round(time.monotonic() - started, 2),
        )
        return status(settings)


def down(settings: Settings, timeout_s: float = 30.0) -> BrokerStatus:
    """Stop the local broker or every node of the cluster (SIGTERM, then SIGKILL after
    ``timeout_s``); the data is kept."""
    if settings.kafka_bootstrap:
        log.info("broker_external_left_running", bootstrap=settings.kafka_bootstrap)
        return _external_status(settings, settings.kafka_bootstrap)
    layout = Layout.of(settings)
    if not layout.root.exists():  # never started here: nothing to stop, nothing to create
        return status(settings)
    nodes = load_cluster(layout)
    with _locked(layout.lock_file):
        places = [layout] if nodes is None else [layout.for_node(n.node_id) for n in nodes]
        live = [(here, pid) for here in places if (pid := _live_pid(here)) is not None]
        started = time.monotonic()
        for _here, pid in live:  # all at once: each node's shutdown needs no other's
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for here, pid in live:
            left = max(1.0, timeout_s - (time.monotonic() - started))
            clean = _terminate(pid, here, timeout_s=left)
            log.info("broker_stopped", pid=pid, node_id=here.node or NODE_ID, clean=clean,
                     seconds=round(time.monotonic() - started, 2))
        for here in places:
            here.pid_file.unlink(missing_ok=True)
    return status(settings)


def reset(settings: Settings) -> Path:
    """Stop the local broker and delete its data and credentials (ports and jars are kept)."""
    if settings.kafka_bootstrap:
        raise ExternalBrokerError(
            f"EMINING_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is an external cluster:"
            " this project never deletes its data"
        )
    down(settings)
    layout = Layout.of(settings)
    with _locked(layout.lock_file):
        shutil.rmtree(layout.data_dir, ignore_errors=True)
        shutil.rmtree(layout.tls_dir, ignore_errors=True)
        shutil.rmtree(layout.root / "nodes", ignore_errors=True)  # a cluster's nodes
        for path in (layout.credentials_file, layout.cluster_id_file, layout.cluster_file):
            path.unlink(missing_ok=True)
    log.info("broker_reset", state_dir=str(layout.root))
    return layout.root
