"""Pure pieces: the pinned version, ``server.properties``, the JVM command line."""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
from collections.abc import Sequence
from pathlib import Path

import structlog

from infra.local_kafka.credentials import Credentials
from infra.local_kafka.errors import JarFetchError
from infra.local_kafka.state import (
    ADMIN,
    AUTHORIZER,
    CLUSTER_HEARTBEAT_MS,
    CLUSTER_SESSION_TIMEOUT_MS,
    CONTROLLER_USER,
    HOST,
    LOG4J2_CONFIG,
    NODE_ID,
    POM,
    REAUTH_MS,
    NodePorts,
    Ports,
)

log = structlog.get_logger()


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
        # A topic keeps its records unless its own config says otherwise (every catalogue topic
        # does). With Kafka's 7-day default, a topic made without one (an operator's own, a
        # test's) deleted records stamped with an older time as soon as a segment rolled: the
        # CI at b2d35ab saw a test topic's log start move from 0 to 7 ("due to log retention
        # time") between writing its records and reading them back.
        "log.retention.ms": -1,
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
    lines = ["# Written by infra/local_kafka/ at every start; edits here are overwritten."]
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
