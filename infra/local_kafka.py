"""Runs a real single-node Apache Kafka (KRaft) from Maven Central jars, without Docker."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from infra.broker_access import settings_access
from infra.broker_errors import (
    BrokerError,
    BrokerStartError,
    BrokerStartTimeoutError,
    BrokerUnreachableError,
    ExternalBrokerError,
    JarFetchError,
    JavaNotFoundError,
    LegacyStorageError,
    MavenNotFoundError,
    PortInUseError,
    SecurityModeError,
    StorageFormatError,
)

if TYPE_CHECKING:
    from producers.connection import KafkaAccess

    from .settings import Settings

__all__ = [  # the errors live in infra.broker_errors; callers may name them from here
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

log = structlog.get_logger()

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
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


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets of the local broker itself; organisations' credentials live in the cluster."""

    admin: str
    controller: str


def load_credentials(layout: Layout) -> Credentials | None:
    try:
        data = json.loads(layout.credentials_file.read_text("utf-8"))
        return Credentials(admin=str(data[ADMIN]), controller=str(data[CONTROLLER_USER]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


_MODES = {
    "CLIENT:PLAINTEXT": "none", "CLIENT:SASL_PLAINTEXT": "scram", "CLIENT:SASL_SSL": "scram-tls",
}


def running_security(layout: Layout) -> str | None:
    """The ``EMINING_KAFKA_SECURITY`` the broker's current ``server.properties`` was written for."""
    try:
        text = layout.server_properties.read_text("utf-8")
    except OSError:
        return None
    match = re.search(r"^listener\.security\.protocol\.map=(CLIENT:[A-Z_]+)", text, re.MULTILINE)
    return _MODES.get(match.group(1)) if match else None


def _same_security(settings: Settings, layout: Layout, pid: int) -> None:
    running = running_security(layout)
    if running is not None and running != settings.kafka_security:
        raise SecurityModeError(
            f"the local broker (pid {pid}) runs with EMINING_KAFKA_SECURITY={running}, this"
            f" command asks for {settings.kafka_security}: run `emining kafka down` and"
            " `emining kafka up` again to switch"
        )


def _ensure_credentials(layout: Layout) -> Credentials:
    found = load_credentials(layout)
    if found is not None:
        return found
    made = Credentials(admin=secrets.token_urlsafe(24), controller=secrets.token_urlsafe(24))
    layout.root.mkdir(parents=True, exist_ok=True)
    _write_atomic(layout.credentials_file,
                  json.dumps({ADMIN: made.admin, CONTROLLER_USER: made.controller}) + "\n",
                  private=True)
    return made


def admin_password(settings: Settings) -> str:
    """The local broker's admin password (the operator's credential on this machine)."""
    found = load_credentials(Layout.of(settings))
    if found is None:
        raise BrokerError(
            f"the local broker has no credentials yet ({Layout.of(settings).credentials_file}):"
            " run `emining kafka up`"
        )
    return found.admin


# --------------------------------------------------------------------------- pure pieces


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in ``infra/kafka/pom.xml`` (the one source of that number)."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text("utf-8"))
    if match is None:
        raise JarFetchError(f"{pom} has no <kafka.version> property")
    return match.group(1)


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding, never starting with ``-``."""
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def _jaas(module: str, **options: str) -> str:
    fields = " ".join(f'{key}="{value}"' for key, value in options.items())
    return f"org.apache.kafka.common.security.{module} required {fields};"


def security_properties(
    security: str, credentials: Credentials, tls_dir: Path, *, reauth_ms: int = REAUTH_MS
) -> dict[str, str | int]:
    """Listener, SASL, TLS and authorizer settings for ``EMINING_KAFKA_SECURITY``.

    ``scram``/``scram-tls``: the client listener takes SASL/SCRAM-SHA-512 (over TLS for
    ``scram-tls``) and is also the inter-broker listener, as ``admin``; the controller listener
    takes SASL/PLAIN with one static user (SCRAM cannot authenticate there in KRaft,
    KAFKA-15513) and is bound to loopback. ``StandardAuthorizer`` denies whatever no ACL allows.
    ``none``: plaintext, no authorizer (a developer's own broker, never shared).
    """
    if security == "none":
        return {
            "listener.security.protocol.map": "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        }
    client = "SASL_SSL" if security == "scram-tls" else "SASL_PLAINTEXT"
    props: dict[str, str | int] = {
        "listener.security.protocol.map": f"CLIENT:{client},CONTROLLER:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.client.scram-sha-512.sasl.jaas.config": _jaas(
            "scram.ScramLoginModule", username=ADMIN, password=credentials.admin
        ),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": _jaas(
            "plain.PlainLoginModule", username=CONTROLLER_USER, password=credentials.controller,
            **{f"user_{CONTROLLER_USER}": credentials.controller},
        ),
        "authorizer.class.name": AUTHORIZER,
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:{CONTROLLER_USER}",
        # Sessions re-authenticate hourly: a rotated (leaked) password cannot outlive that.
        # aiokafka cannot re-authenticate (KIP-368): the broker closes the connection and the
        # client logs in again with what it has. Offboarding does not wait for this: ACLs are
        # checked on every request.
        "connections.max.reauth.ms": reauth_ms,
    }
    if client == "SASL_SSL":
        props |= {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(tls_dir / "broker.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls_dir / "ca.pem"),
            "ssl.endpoint.identification.algorithm": "https",
        }
    return props


def render_server_properties(
    *,
    ports: Ports,
    data_dir: Path,
    node_id: int = NODE_ID,
    security: dict[str, str | int] | None = None,
    voters: str | None = None,
    host: str = HOST,
    replication: int = 1,
) -> str:
    """``server.properties`` for one combined broker+controller node.

    Alone (``voters`` None) the node is its own quorum. In a local cluster every node gets the
    same static ``voters`` (``quorum_voters``), and ``replication`` 3 makes the internal topics and
    the default for new topics three copies, two of them in sync before a write counts.
    """
    min_isr = min_insync_replicas(replication)
    props: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": voters or f"{node_id}@{host}:{ports.controller}",
        "listeners": f"CLIENT://{host}:{ports.broker},CONTROLLER://{host}:{ports.controller}",
        "advertised.listeners": f"CLIENT://{host}:{ports.broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "CLIENT",
        **(security or {"listener.security.protocol.map": "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"}),
        "log.dirs": str(data_dir),
        # Topics come from the catalogue (``emining topics apply``), never from a typo.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": min_isr,
        # An out-of-sync replica never becomes leader: that would drop acknowledged writes.
        "unclean.leader.election.enable": "false",
        "offsets.topic.replication.factor": replication,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        # The 128 MiB default dedupe buffer is allocated on the heap at start.
        "log.cleaner.dedupe.buffer.size": 2 * 1024 * 1024,
        "num.network.threads": 2,
        "num.io.threads": 2,
        "background.threads": 2,
        "num.recovery.threads.per.data.dir": 1,
    }
    if voters is not None:  # a cluster: a dead node is fenced (its leaderships moved) quickly
        props |= {
            "broker.session.timeout.ms": CLUSTER_SESSION_TIMEOUT_MS,
            "broker.heartbeat.interval.ms": CLUSTER_HEARTBEAT_MS,
        }
    lines = ["# Written by infra/local_kafka.py at every start; edits here are overwritten."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def min_insync_replicas(replication: int) -> int:
    """2 of 3 (or more) copies must hold a write before it is acknowledged; 1 when alone."""
    return 2 if replication >= 3 else 1  # noqa: PLR2004 - the durability rule itself


def quorum_voters(nodes: Sequence[NodePorts]) -> str:
    """``controller.quorum.voters`` of a static KRaft quorum: ``id@host:port,...``."""
    return ",".join(f"{n.node_id}@{n.host}:{n.controller}" for n in nodes)


def java_command(
    *,
    java: str,
    libs: Path,
    heap: str,
    main_class: str,
    args: list[str],
    logs_dir: Path | None = None,
) -> list[str]:
    """The JVM command line for a Kafka main class run from the cached jars."""
    cmd = [java, *shlex.split(heap), "-Djava.awt.headless=true", "-XX:+ExitOnOutOfMemoryError"]
    if logs_dir is not None:
        cmd += [f"-Dkafka.logs.dir={logs_dir}", f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}"]
    cmd += ["-cp", f"{libs}/*", main_class, *args]
    return cmd


def tail(path: Path, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file ([] if it does not exist)."""
    if lines <= 0 or not path.exists():
        return []
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        block = 8192
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - block)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


# --------------------------------------------------------------------------- tools and jars


def require_tool(name: str) -> str:
    """Absolute path of ``java`` or ``mvn``, or the error that says how to get it."""
    found = shutil.which(name)
    if found is not None:
        return found
    if name == "java":
        raise JavaNotFoundError(
            "no `java` on PATH: install a JDK 17+ (Debian: apt-get install openjdk-17-jre-headless)"
            " or set EMINING_KAFKA_BOOTSTRAP to an existing Kafka cluster"
        )
    if name == "mvn":
        raise MavenNotFoundError(
            "no `mvn` on PATH: install Maven 3.8+ (Debian: apt-get install maven) to fetch the"
            " Kafka jars, or set EMINING_KAFKA_BOOTSTRAP to an existing Kafka cluster"
        )
    raise BrokerError(f"no `{name}` on PATH")


def _pom_digest(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


_UNREACHABLE = re.compile(
    r"Could not transfer|UnknownHost|Unknown host|Connection refused|Connect to .* failed"
    r"|Network is unreachable|timed out|Could not resolve",
    re.IGNORECASE,
)


def ensure_jars(settings: Settings, on_phase: Phase | None = None) -> Path:
    """The ``libs`` folder for the pinned Kafka version, fetched from Maven Central once."""
    return _ensure_fetched(settings, POM, "libs", "complete.json", "jars", on_phase)


TOOLS = {
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-acls": "org.apache.kafka.tools.AclCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
}
"""Kafka's own command-line tools (``bin/<name>.sh`` of a Kafka distribution) → main class."""


def ensure_tools(settings: Settings, on_phase: Phase | None = None) -> Path:
    """The ``tools`` folder (Kafka's command-line tools, the broker's version), fetched once."""
    return _ensure_fetched(settings, TOOLS_POM, "tools", "tools.json", "command-line tools",
                           on_phase)


def _ensure_fetched(settings: Settings, pom: Path, folder: str, marker_name: str, what: str,
                    on_phase: Phase | None) -> Path:
    version = kafka_version()
    home = settings.cache_dir.expanduser().resolve() / f"kafka-{version}"
    libs = home / folder
    marker = home / marker_name
    digest = _pom_digest(pom)

    def cached() -> bool:
        try:
            data = json.loads(marker.read_text("utf-8"))
        except (OSError, ValueError):
            return False
        return bool(data.get("pom_sha256") == digest and libs.is_dir())

    if cached():
        return libs
    with _locked(home / ".lock"):
        if cached():  # another process fetched them while we waited for the lock
            return libs
        require_tool("java")
        mvn = require_tool("mvn")
        if on_phase is not None:
            on_phase(f"fetching Kafka {version} {what} from Maven Central")
        staging = home / f"{folder}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
        ]
        started = time.monotonic()
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
                cmd, capture_output=True, text=True, check=False,
                timeout=settings.kafka_fetch_timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise JarFetchError(
                f"mvn did not finish within {settings.kafka_fetch_timeout_s:.0f}s fetching Kafka"
                f" {version} {what}: is Maven Central (repo.maven.apache.org) reachable?"
            ) from exc
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            output = (proc.stdout + proc.stderr).strip().splitlines()
            last = "\n".join(output[-15:])
            why = (
                "Maven Central unreachable"
                if _UNREACHABLE.search(proc.stdout + proc.stderr)
                else f"mvn exited {proc.returncode}"
            )
            raise JarFetchError(
                f"could not fetch Kafka {version} {what} ({why}); mvn said:\n{last}")
        jars = {jar.name: jar.stat().st_size for jar in staging.glob("*.jar")}
        shutil.rmtree(libs, ignore_errors=True)
        staging.replace(libs)
        _write_atomic(
            marker,
            json.dumps(
                {
                    "kafka_version": version,
                    "pom_sha256": digest,
                    "jars": len(jars),
                    "bytes": sum(jars.values()),
                },
                indent=2,
            ),
        )
        log.info(
            "kafka_jars_fetched", version=version, what=what, jars=len(jars),
            bytes=sum(jars.values()),
            libs=str(libs),
            seconds=round(time.monotonic() - started, 1),
        )
    return libs


# --------------------------------------------------------------------------- probes


def _parse_bootstrap(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",", maxsplit=1)[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit():
        raise BrokerUnreachableError(f"bootstrap {bootstrap!r} is not host:port")
    return host.strip("[]"), int(port)


def broker_count(access: KafkaAccess, timeout_s: float) -> int:
    """How many live brokers a metadata request, made as ``access``'s principal, lists.

    A broker only lists itself once it has caught up with the metadata log and been unfenced,
    so ``>= 1`` means ready for clients. librdkafka (confluent-kafka) is synchronous, speaks
    SASL/SCRAM and TLS, and keeps no state between calls: right for a probe.
    """
    from confluent_kafka import KafkaException  # noqa: PLC0415 - keep CLI start-up light
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    config: dict[str, str | int | float | bool] = {
        **access.librdkafka(), "log_level": 0,
        "socket.connection.setup.timeout.ms": 1000 + int(timeout_s * 1000),
    }
    try:
        metadata = AdminClient(config).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ConnectionError(str(exc.args[0] if exc.args else exc)) from exc
    return len(metadata.brokers)


def is_ready(access: KafkaAccess, timeout_s: float = 2.0) -> bool:
    """True when the broker at ``access`` answers a metadata request listing a live broker."""
    try:
        return broker_count(access, timeout_s) >= 1
    except (OSError, ValueError, RuntimeError):
        return False


def local_access(
    settings: Settings, ports: Ports | str, credentials: Credentials
) -> KafkaAccess:
    """The local broker (or cluster, given its bootstrap) as its admin: the operator's access."""
    from producers.connection import KafkaAccess  # noqa: PLC0415

    bootstrap = ports if isinstance(ports, str) else ports.bootstrap
    if settings.kafka_security == "none":
        return KafkaAccess(bootstrap)
    tls = settings.kafka_security == "scram-tls"
    return KafkaAccess(
        bootstrap, "SASL_SSL" if tls else "SASL_PLAINTEXT", ADMIN, credentials.admin,
        Layout.of(settings).tls_dir / "ca.pem" if tls else None,
    )


def describe_brokers(access: KafkaAccess, timeout_s: float) -> dict[int, str]:
    """Live brokers by node id → ``host:port``, from a metadata request (any cluster)."""
    from confluent_kafka import KafkaException  # noqa: PLC0415 - keep CLI start-up light
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    config: dict[str, str | int | float | bool] = {
        **access.librdkafka(), "log_level": 0,
        "socket.connection.setup.timeout.ms": 1000 + int(timeout_s * 1000),
    }
    try:
        metadata = AdminClient(config).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise ConnectionError(str(exc.args[0] if exc.args else exc)) from exc
    return {int(b.id): f"{b.host}:{b.port}" for b in metadata.brokers.values()}


# --------------------------------------------------------------------------- process


def _read_pid(layout: Layout) -> int | None:
    try:
        return int(layout.pid_file.read_text("utf-8").strip())
    except (OSError, ValueError):
        return None


def _proc_field(pid: int, name: str) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text("utf-8").splitlines():
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
    except OSError:
        return None
    return None


def _is_our_broker(pid: int, layout: Layout) -> bool:
    """Alive, not a zombie, and really the Kafka of this state dir (pids get reused)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    state = _proc_field(pid, "State")
    if state is not None and state.startswith("Z"):
        return False
    cmdline_path = Path(f"/proc/{pid}/cmdline")
    if cmdline_path.exists():
        try:
            args = cmdline_path.read_bytes().split(b"\0")
        except OSError:
            return False
        return b"kafka.Kafka" in args and str(layout.server_properties).encode() in args
    # No /proc (macOS): ask ps.
    proc = subprocess.run(  # noqa: S603 - fixed argv
        ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps is a POSIX base utility
        capture_output=True, text=True, check=False,
    )
    return "kafka.Kafka" in proc.stdout and str(layout.server_properties) in proc.stdout


def _live_pid(layout: Layout) -> int | None:
    pid = _read_pid(layout)
    if pid is not None and _is_our_broker(pid, layout):
        return pid
    return None


def _rss_bytes(pid: int) -> int | None:
    value = _proc_field(pid, "VmRSS")  # "123456 kB"
    if value is None:
        return None
    number, _, unit = value.partition(" ")
    return int(number) * 1024 if unit.strip().lower() == "kb" else int(number)


_LAUNCHER = """
"$@" >"$0" 2>&1 </dev/null &
pid=$!
echo "$pid"
if [ -n "${EMINING_OWNER_PID:-}" ]; then
  (
    while kill -0 "$EMINING_OWNER_PID" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 1; done
    kill -0 "$EMINING_OWNER_PID" 2>/dev/null || kill "$pid" 2>/dev/null
  ) >/dev/null 2>&1 </dev/null &
fi
"""


def _spawn_detached(
    cmd: list[str], *, cwd: Path, output: Path, owner_pid: int | None = None
) -> int:
    """Start ``cmd`` as a daemon (new session, reparented to init) and return its pid.

    A tiny ``sh`` starts the JVM in the background and exits at once, so the broker is never
    this Python process's child: no zombie, no ``Popen`` left to warn when it is collected.
    With ``owner_pid``, a watchdog stops the broker (SIGTERM) once that process is gone, so a
    killed test run leaves no broker behind.
    """
    env = dict(os.environ)
    env.pop("EMINING_OWNER_PID", None)
    if owner_pid is not None:
        env["EMINING_OWNER_PID"] = str(owner_pid)
    proc = subprocess.run(  # noqa: S603 - fixed argv, the command is passed as "$@"
        ["/bin/sh", "-c", _LAUNCHER, str(output), *cmd],
        cwd=cwd, env=env, check=True, start_new_session=True, capture_output=True, text=True,
    )
    return int(proc.stdout.strip())


def _log_tail_text(layout: Layout, lines: int = LOG_TAIL_LINES) -> str:
    parts: list[str] = []
    out = tail(layout.stdout_file, lines)
    if out:
        parts.append(f"--- {layout.stdout_file} (last {len(out)} lines)\n" + "\n".join(out))
    server = tail(layout.log_file, lines)
    if server:
        parts.append(f"--- {layout.log_file} (last {len(server)} lines)\n" + "\n".join(server))
    return "\n".join(parts) if parts else "(the broker wrote no log lines)"


def _pick_free_port(taken: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port


def port_is_free(port: int) -> bool:
    """True if a server could bind ``127.0.0.1:port`` now (SO_REUSEADDR, like the JVM)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def load_ports(layout: Layout) -> Ports | None:
    """The ports persisted for this state dir, if any."""
    try:
        data = json.loads(layout.ports_file.read_text("utf-8"))
        return Ports(broker=int(data["broker"]), controller=int(data["controller"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def ensure_ports(layout: Layout) -> Ports:
    """Reuse the persisted ports (error if one is now taken) or pick and persist free ones."""
    ports = load_ports(layout)
    if ports is None:
        broker = _pick_free_port(set())
        ports = Ports(broker=broker, controller=_pick_free_port({broker}))
        layout.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(layout.ports_file, json.dumps(asdict(ports), indent=2) + "\n")
        log.info("broker_ports_picked", broker=ports.broker, controller=ports.controller)
        return ports
    for role, port in (("client", ports.broker), ("controller", ports.controller)):
        if not port_is_free(port):
            raise PortInUseError(
                f"port {port} (the local broker's {role} listener, persisted in"
                f" {layout.ports_file}) is in use by another process: stop that process, or"
                f" delete {layout.ports_file} to pick new ports"
            )
    return ports


def ensure_cluster_id(layout: Layout) -> str:
    """The cluster id of this state dir, created once and kept."""
    try:
        existing = layout.cluster_id_file.read_text("utf-8").strip()
    except OSError:
        existing = ""
    if existing:
        return existing
    cluster_id = new_cluster_id()
    layout.root.mkdir(parents=True, exist_ok=True)
    _write_atomic(layout.cluster_id_file, cluster_id + "\n")
    return cluster_id


def _format_storage(
    settings: Settings, layout: Layout, *, java: str, libs: Path, credentials: Credentials
) -> None:
    """Format KRaft storage once, with the admin's SCRAM credential in the first metadata."""
    if (layout.data_dir / "meta.properties").exists():
        return
    cluster_id = ensure_cluster_id(layout)
    cmd = java_command(
        java=java, libs=libs, heap="-Xmx256m", main_class="kafka.tools.StorageTool",
        args=["format", "-t", cluster_id, "-c", str(layout.server_properties),
              "--ignore-formatted",
              "--add-scram", f"SCRAM-SHA-512=[name={ADMIN},password={credentials.admin}]"],
    )
    # The password must not show in /proc/<pid>/cmdline: the JVM reads its arguments from a
    # 0600 file instead (the java launcher's @argfile), removed right after.
    argfile = layout.node_root / ".format.args"  # one per node: nodes format at once
    _write_atomic(argfile, "\n".join(_argfile_quote(a) for a in cmd[1:]) + "\n", private=True)
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [cmd[0], f"@{argfile}"], capture_output=True, text=True, check=False,
            cwd=layout.root, timeout=settings.kafka_start_timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise StorageFormatError("kafka StorageTool format did not finish in time") from exc
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        last = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:])
        raise StorageFormatError(f"kafka StorageTool format exited {proc.returncode}:\n{last}")
    log.info("broker_storage_formatted", cluster_id=cluster_id, data_dir=str(layout.data_dir))


def _argfile_quote(arg: str) -> str:
    """One argument of a java @argfile: quoted, with backslashes and quotes escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


MAKE_CERTS = Path(__file__).resolve().parent / "tls" / "make-certs.sh"


def ensure_tls(layout: Layout) -> None:
    """A local CA and a broker certificate for 127.0.0.1/localhost, made once (openssl)."""
    if (layout.tls_dir / "broker.pem").exists() and (layout.tls_dir / "ca.pem").exists():
        return
    openssl = require_tool("openssl")
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [require_tool("bash"), str(MAKE_CERTS), str(layout.tls_dir)], capture_output=True,
        text=True,
        check=False, env={**os.environ, "OPENSSL": openssl},
    )
    if proc.returncode != 0:
        raise BrokerError(f"{MAKE_CERTS} failed:\n{(proc.stdout + proc.stderr).strip()}")
    log.info("broker_tls_made", tls_dir=str(layout.tls_dir))


def _wait_ready(settings: Settings, layout: Layout, *, pid: int, access: KafkaAccess) -> None:
    bootstrap = access.bootstrap
    deadline = time.monotonic() + settings.kafka_start_timeout_s
    while True:
        if is_ready(access, timeout_s=2.0):
            return
        if not _is_our_broker(pid, layout):
            layout.pid_file.unlink(missing_ok=True)
            raise BrokerStartError(
                f"the Kafka broker (pid {pid}) exited before it was ready:\n"
                + _log_tail_text(layout)
            )
        if time.monotonic() >= deadline:
            _terminate(pid, layout, timeout_s=10.0)
            layout.pid_file.unlink(missing_ok=True)
            raise BrokerStartTimeoutError(
                f"the Kafka broker (pid {pid}) did not answer on {bootstrap} within"
                f" {settings.kafka_start_timeout_s:.0f}s (EMINING_KAFKA_START_TIMEOUT_S); it was"
                " stopped:\n" + _log_tail_text(layout)
            )
        time.sleep(0.2)


def _terminate(pid: int, layout: Layout, *, timeout_s: float) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if it stopped cleanly."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _is_our_broker(pid, layout):
            return True
        time.sleep(0.1)
    log.warning("broker_killed", pid=pid, after_s=timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and _is_our_broker(pid, layout):
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- public API


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


# --------------------------------------------------------------------------- local cluster

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


def _log_places(settings: Settings, node: int | None) -> list[Layout]:
    layout = Layout.of(settings)
    nodes = load_cluster(layout)
    if nodes is None:
        return [layout]
    ids = [n.node_id for n in nodes]
    if node is not None and node not in ids:
        raise BrokerError(f"the local cluster has nodes {ids}, not {node}")
    return [layout.for_node(i) for i in ids if node in (None, i)]


def logs(settings: Settings, lines: int = 100, node: int | None = None) -> str:
    """The last ``lines`` lines of the local broker's log (each node's, or ``node``'s)."""
    if settings.kafka_bootstrap:
        raise ExternalBrokerError(
            f"EMINING_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is an external cluster:"
            " its logs are not kept by this project"
        )
    places = _log_places(settings, node)
    parts: list[str] = []
    for here in places:
        for path in (here.log_file, here.stdout_file):
            if path.exists():
                text = "\n".join(tail(path, lines))
                parts.append(text if here.node is None or len(places) == 1
                             else f"==> node {here.node}: {path} <==\n{text}")
                break
    return "\n".join(parts)


def follow(
    settings: Settings, lines: int = 10, poll_s: float = 0.5, node: int | None = None
) -> Iterator[str]:
    """Yield the last ``lines`` log lines, then every new line as it is written (``tail -f``).

    A cluster's node 1 unless ``node`` says which.
    """
    places = _log_places(settings, node)
    here = places[0]
    text = logs(settings, lines, node=here.node)
    yield from text.splitlines()
    path = here.log_file
    position = path.stat().st_size if path.exists() else 0
    pending = b""
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < position:  # rotated
            position = 0
        if size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read(size - position)
            position = size
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line.decode("utf-8", errors="replace")
        else:
            time.sleep(poll_s)
