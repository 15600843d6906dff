"""Session fixtures shared by every test tier: one real Kafka broker, never the user's own."""

from __future__ import annotations

import os
import socket
import warnings
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from infra import local_kafka
from infra.kafka_settings import kafka_access as settings_access
from infra.settings import Settings
from transport.access import KafkaAccess

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

KAFKA_IMAGE = "apache/kafka:4.1.1"


def kafka_required() -> bool:
    """``EMINING_REQUIRE_KAFKA=1`` (CI): a missing broker fails the run instead of skipping."""
    return os.environ.get("EMINING_REQUIRE_KAFKA") == "1"


def no_kafka(reasons: list[str]) -> NoReturn:
    message = "no Kafka broker for these tests: " + "; ".join(reasons)
    if kafka_required():
        pytest.fail(message + " (EMINING_REQUIRE_KAFKA=1, so this fails instead of skipping)",
                    pytrace=False)
    pytest.skip(message)


def local_broker_settings(state_dir: Path) -> Settings:
    """Settings for a project-managed broker living in ``state_dir`` (shared jar cache).

    Security comes from ``EMINING_KAFKA_SECURITY`` (default ``scram``: the suite runs against
    an authenticating, deny-by-default broker, as every deployment does).
    """
    return Settings(kafka_bootstrap=None, state_dir=state_dir, kafka_username=None,
                    kafka_password=None, kafka_password_file=None, kafka_ca_file=None)


@contextmanager
def own_broker(
    state_dir: Path, security: str = "scram", what: str = "private", **overrides: Any
) -> Iterator[Settings]:
    """A project broker of a test module's own (stopped at the end), for tests that restart it
    or need other broker settings than the session's (``EMINING_KAFKA_SECURITY``, ...)."""
    settings = local_broker_settings(state_dir).model_copy(
        update={"kafka_security": security, **overrides})
    try:
        local_kafka.up(settings, owner_pid=os.getpid())
    except local_kafka.BrokerError as exc:
        no_kafka([f"cannot start a {what} local broker: {_first_line(exc)}"])
    try:
        yield settings
    finally:
        local_kafka.down(settings)


def _first_line(exc: BaseException) -> str:
    return str(exc).partition("\n")[0]


def _docker_answers(reasons: list[str]) -> bool:
    try:
        with warnings.catch_warnings():
            # The Docker SDK is only probed here; its import-time deprecations are not ours.
            warnings.simplefilter("ignore")
            import docker  # type: ignore[import-untyped]  # noqa: PLC0415 - fallback path only

            client = docker.from_env()
            client.ping()
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "no Docker engine"
        reasons.append(f"no Docker engine for testcontainers ({_first_line(exc)})")
        return False
    return True


def _kafka_container() -> tuple[Any, str]:
    """The official image in KRaft combined mode, advertised on a fixed free host port."""
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        "CLUSTER_ID": local_kafka.new_cluster_id(),
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port).with_envs(**env)
    container.waiting_for(LogMessageWaitStrategy("Kafka Server started"))
    return container, f"localhost:{port}"


@pytest.fixture(scope="session")
def kafka_access(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaAccess]:
    """A real broker for this test session, reached as its admin (a super user).

    In order: ``EMINING_KAFKA_BOOTSTRAP`` with the ``EMINING_KAFKA_*`` credential; the project's
    own JVM broker in a session tmp dir (stopped at the end); the official image through
    testcontainers if Docker answers (plaintext: the security tests then fail, never skip).
    Tests that act as an organisation derive their access with ``as_user``.
    """
    external = os.environ.get("EMINING_KAFKA_BOOTSTRAP")
    if external:
        access = settings_access(Settings())
        if not local_kafka.is_ready(access, timeout_s=10.0):
            no_kafka([f"EMINING_KAFKA_BOOTSTRAP={external} does not answer {access.describe()}"])
        yield access
        return

    reasons: list[str] = []
    settings = local_broker_settings(tmp_path_factory.mktemp("kafka-session"))
    try:
        local_kafka.up(settings, owner_pid=os.getpid())  # dies with this session
    except local_kafka.BrokerError as exc:
        reasons.append(f"local JVM broker: {_first_line(exc)}")
    else:
        try:
            yield settings_access(settings)
        finally:
            local_kafka.down(settings)
        return

    if _docker_answers(reasons):
        container, bootstrap = _kafka_container()
        container.start()
        try:
            yield KafkaAccess(bootstrap)
        finally:
            container.stop()
        return
    no_kafka(reasons)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_access: KafkaAccess) -> str:
    """``host:port`` of the session broker (clients also need ``kafka_access``'s credential)."""
    return kafka_access.bootstrap
