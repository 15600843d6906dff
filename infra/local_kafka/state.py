"""Where the local broker keeps its files, what it reports, and the file helpers."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.settings import Settings


KAFKA_DIR = Path(__file__).resolve().parent.parent / "kafka"
POM = KAFKA_DIR / "pom.xml"
TOOLS_POM = KAFKA_DIR / "tools-pom.xml"
LOG4J2_CONFIG = KAFKA_DIR / "log4j2.properties"
HOST = "127.0.0.1"
NODE_ID = 1
ADMIN = "admin"
"""The local broker's super user: the operator's own tools (topics, ACLs, credentials)."""
CONTROLLER_USER = "controller"
"""The broker's own principal on the loopback controller listener (SASL/PLAIN, KAFKA-15513)."""
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
REAUTH_MS = 3_600_000
CLUSTER_SIZES = (1, 3)
"""``emining kafka up --brokers N``: one node, or three (a quorum that survives one loss)."""
CLUSTER_SESSION_TIMEOUT_MS = 4000
CLUSTER_HEARTBEAT_MS = 500
LOG_TAIL_LINES = 30

Phase = Callable[[str], None]
"""Progress callback: receives a short human description of what ``up`` is doing now."""


# --------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What ``status``/``up``/``down`` report about the broker the project uses."""

    running: bool
    bootstrap: str | None
    pid: int | None
    version: str | None  # the pinned Kafka version of the local broker; None when external
    state_dir: Path | None
    log_file: Path | None
    external: bool = False
    ready: bool = False
    rss_bytes: int | None = None
    brokers: int = 1
    """Nodes of the cluster (1 for the single local node; as listed by metadata if external)."""
    nodes: tuple[NodeStatus, ...] = ()
    active_controller: int | None = None
    """The node id leading the KRaft quorum (None: unknown or no quorum)."""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("state_dir", "log_file"):
            value = data[key]
            data[key] = None if value is None else str(value)
        data["nodes"] = [node.to_json() for node in self.nodes]
        return data


@dataclass(frozen=True, slots=True)
class Ports:
    broker: int
    controller: int

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.broker}"


@dataclass(frozen=True, slots=True)
class NodePorts:
    """One node of a local cluster: its id, the address it listens on, its two ports."""

    node_id: int
    host: str
    broker: int
    controller: int

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.broker}"

    @property
    def ports(self) -> Ports:
        return Ports(broker=self.broker, controller=self.controller)


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """What ``status`` reports about one node (``emining kafka status --json``: ``nodes``)."""

    node_id: int
    alive: bool
    pid: int | None
    roles: tuple[str, ...]
    host: str
    broker_port: int | None
    controller_port: int | None
    active_controller: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "alive": self.alive, "pid": self.pid,
            "roles": list(self.roles), "host": self.host, "broker_port": self.broker_port,
            "controller_port": self.controller_port,
            "active_controller": self.active_controller,
        }


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the local broker keeps everything, under ``<settings.state_dir>/kafka``."""

    root: Path
    node: int | None = None
    """A node of a local cluster (its files under ``nodes/<id>``); None: the single node."""

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(settings.state_dir.resolve() / "kafka")

    def for_node(self, node_id: int) -> Layout:
        """The same state dir, seen from one node of a local cluster."""
        return Layout(self.root, node_id)

    @property
    def node_root(self) -> Path:
        return self.root if self.node is None else self.root / "nodes" / str(self.node)

    @property
    def cluster_file(self) -> Path:
        """Present for a local cluster: its size and every node's host and ports."""
        return self.root / "cluster.json"

    @property
    def data_dir(self) -> Path:
        return self.node_root / "data"

    @property
    def logs_dir(self) -> Path:
        return self.node_root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def stdout_file(self) -> Path:
        return self.node_root / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.node_root / "kafka.pid"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def cluster_id_file(self) -> Path:
        return self.root / "cluster.id"

    @property
    def server_properties(self) -> Path:
        return self.node_root / "server.properties"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def credentials_file(self) -> Path:
        """The admin's and the controller's passwords, made at format time (mode 0600)."""
        return self.root / "credentials.json"

    @property
    def tls_dir(self) -> Path:
        """The local CA and the broker certificate (``infra/tls/make-certs.sh``)."""
        return self.root / "tls"


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Serialise ``up``/``down``/jar fetches across processes (two test sessions, two shells)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str, *, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if private:  # created 0600: secrets are never readable by others, not even for a moment
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
