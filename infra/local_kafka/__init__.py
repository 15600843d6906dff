"""Runs a real Apache Kafka (KRaft) from Maven Central jars, without Docker: one node or a
local three-node cluster.

Rooms: ``state`` (layout, reported status types), ``credentials`` (the broker's own secrets),
``config`` (``server.properties``, JVM command line), ``install`` (Maven jars and tools), ``probes``
(metadata requests), ``node`` (one process), ``cluster`` (three nodes), ``status``, ``lifecycle``
(``up``/``down``/``reset``), ``logs``; below them ``errors`` (the local broker's errors, under
``transport.errors.BrokerError``) and ``access`` (settings → how to reach the broker). Callers name
all from here.
"""

from infra.local_kafka.cluster import (
    Wrap,
    active_controller,
    load_cluster,
    local_size,
    node_pids,
    plan_cluster,
    quorum_leader,
    start_node,
    stop_node,
)
from infra.local_kafka.config import (
    java_command,
    kafka_version,
    min_insync_replicas,
    new_cluster_id,
    quorum_voters,
    render_server_properties,
    security_properties,
    tail,
)
from infra.local_kafka.credentials import (
    Credentials,
    admin_password,
    load_credentials,
    running_security,
)
from infra.local_kafka.errors import (
    BrokerError,
    BrokerStartError,
    BrokerStartTimeoutError,
    ExternalBrokerError,
    JarFetchError,
    JavaNotFoundError,
    LegacyStorageError,
    MavenNotFoundError,
    PortInUseError,
    SecurityModeError,
    StorageFormatError,
)
from infra.local_kafka.install import TOOLS, ensure_jars, ensure_tools, require_tool
from infra.local_kafka.lifecycle import down, reset, up
from infra.local_kafka.logs import follow, logs
from infra.local_kafka.node import (
    MAKE_CERTS,
    ensure_cluster_id,
    ensure_ports,
    ensure_tls,
    load_ports,
    port_is_free,
)
from infra.local_kafka.probes import broker_count, describe_brokers, is_ready, local_access
from infra.local_kafka.state import (
    ADMIN,
    AUTHORIZER,
    CLUSTER_SIZES,
    CONTROLLER_USER,
    HOST,
    KAFKA_DIR,
    LOG4J2_CONFIG,
    LOG_TAIL_LINES,
    NODE_ID,
    POM,
    REAUTH_MS,
    TOOLS_POM,
    BrokerStatus,
    Layout,
    NodePorts,
    NodeStatus,
    Phase,
    Ports,
)
from infra.local_kafka.status import status
from transport.errors import BrokerUnreachableError

__all__ = [
    "ADMIN",
    "AUTHORIZER",
    "CLUSTER_SIZES",
    "CONTROLLER_USER",
    "HOST",
    "KAFKA_DIR",
    "LOG4J2_CONFIG",
    "LOG_TAIL_LINES",
    "MAKE_CERTS",
    "NODE_ID",
    "POM",
    "REAUTH_MS",
    "TOOLS",
    "TOOLS_POM",
    "BrokerError",
    "BrokerStartError",
    "BrokerStartTimeoutError",
    "BrokerStatus",
    "BrokerUnreachableError",
    "Credentials",
    "ExternalBrokerError",
    "JarFetchError",
    "JavaNotFoundError",
    "Layout",
    "LegacyStorageError",
    "MavenNotFoundError",
    "NodePorts",
    "NodeStatus",
    "Phase",
    "PortInUseError",
    "Ports",
    "SecurityModeError",
    "StorageFormatError",
    "Wrap",
    "active_controller",
    "admin_password",
    "broker_count",
    "describe_brokers",
    "down",
    "ensure_cluster_id",
    "ensure_jars",
    "ensure_ports",
    "ensure_tls",
    "ensure_tools",
    "follow",
    "is_ready",
    "java_command",
    "kafka_version",
    "load_cluster",
    "load_credentials",
    "load_ports",
    "local_access",
    "local_size",
    "logs",
    "min_insync_replicas",
    "new_cluster_id",
    "node_pids",
    "plan_cluster",
    "port_is_free",
    "quorum_leader",
    "quorum_voters",
    "render_server_properties",
    "require_tool",
    "reset",
    "running_security",
    "security_properties",
    "start_node",
    "status",
    "stop_node",
    "tail",
    "up",
]
