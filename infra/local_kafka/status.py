"""What ``emining kafka status`` reports: external, single node or cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.local_kafka.access import settings_access
from infra.local_kafka.cluster import (
    _cluster_bootstrap,
    load_cluster,
    quorum_leader,
)
from infra.local_kafka.config import kafka_version
from infra.local_kafka.credentials import load_credentials
from infra.local_kafka.node import _live_pid, _rss_bytes, load_ports
from infra.local_kafka.probes import describe_brokers, is_ready, local_access
from infra.local_kafka.state import HOST, NODE_ID, BrokerStatus, Layout, NodePorts, NodeStatus

if TYPE_CHECKING:
    from infra.settings import Settings


def _external_status(settings: Settings, bootstrap: str) -> BrokerStatus:
    access = settings_access(settings, bootstrap)
    timeout_s = min(settings.client_timeout_s, 5.0)
    try:
        brokers = describe_brokers(access, timeout_s)
    except (OSError, ValueError, RuntimeError):
        brokers = {}
    nodes = tuple(
        NodeStatus(node_id=node_id, alive=True, pid=None, roles=("broker",),
                   host=address.rpartition(":")[0], broker_port=int(address.rpartition(":")[2]),
                   controller_port=None)
        for node_id, address in sorted(brokers.items())
    )
    ready = bool(brokers)
    return BrokerStatus(
        running=ready, ready=ready, bootstrap=bootstrap, pid=None, version=None,
        state_dir=None, log_file=None, external=True, brokers=len(brokers), nodes=nodes,
    )


def _cluster_status(settings: Settings, layout: Layout, nodes: list[NodePorts]) -> BrokerStatus:
    pids = {n.node_id: _live_pid(layout.for_node(n.node_id)) for n in nodes}
    leader = quorum_leader({
        node_id: layout.for_node(node_id).data_dir for node_id, pid in pids.items() if pid
    })
    statuses = tuple(
        NodeStatus(node_id=n.node_id, alive=pids[n.node_id] is not None, pid=pids[n.node_id],
                   roles=("broker", "controller"), host=n.host, broker_port=n.broker,
                   controller_port=n.controller, active_controller=n.node_id == leader)
        for n in nodes
    )
    alive = [s for s in statuses if s.alive]
    credentials = load_credentials(layout)
    bootstrap = _cluster_bootstrap([n for n in nodes if pids[n.node_id] is not None])
    rss = [_rss_bytes(s.pid) for s in alive if s.pid is not None]
    return BrokerStatus(
        running=bool(alive),
        ready=bool(alive) and credentials is not None
        and is_ready(local_access(settings, bootstrap, credentials), timeout_s=2.0),
        bootstrap=bootstrap or None,
        pid=None,
        version=kafka_version(),
        state_dir=layout.root,
        log_file=layout.for_node(nodes[0].node_id).log_file,
        rss_bytes=sum(r for r in rss if r is not None) if alive else None,
        brokers=len(nodes),
        nodes=statuses,
        active_controller=leader if alive else None,
    )


# --------------------------------------------------------------------------- public API


def status(settings: Settings) -> BrokerStatus:
    """Is the project's broker (or cluster) running, where, as which processes, how big."""
    if settings.kafka_bootstrap:
        return _external_status(settings, settings.kafka_bootstrap)
    layout = Layout.of(settings)
    nodes = load_cluster(layout)
    if nodes is not None:
        return _cluster_status(settings, layout, nodes)
    pid = _live_pid(layout)
    ports = load_ports(layout) if pid is not None else None
    credentials = load_credentials(layout)
    bootstrap = ports.bootstrap if ports is not None else None
    persisted = load_ports(layout)
    node = NodeStatus(
        node_id=NODE_ID, alive=pid is not None, pid=pid, roles=("broker", "controller"),
        host=HOST, broker_port=persisted.broker if persisted else None,
        controller_port=persisted.controller if persisted else None,
        active_controller=pid is not None,
    )
    return BrokerStatus(
        running=pid is not None,
        ready=ports is not None and credentials is not None
        and is_ready(local_access(settings, ports, credentials), timeout_s=2.0),
        bootstrap=bootstrap,
        pid=pid,
        version=kafka_version(),
        state_dir=layout.root,
        log_file=layout.log_file,
        rss_bytes=_rss_bytes(pid) if pid is not None else None,
        nodes=(node,) if persisted is not None else (),
        active_controller=NODE_ID if pid is not None else None,
    )
