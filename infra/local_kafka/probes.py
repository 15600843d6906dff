"""Metadata probes: is a broker ready, how many brokers, as which access."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.local_kafka.credentials import Credentials
from infra.local_kafka.state import ADMIN, Layout, Ports
from transport.errors import BrokerUnreachableError

if TYPE_CHECKING:
    from infra.settings import Settings
    from transport.access import KafkaAccess


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
    from transport.access import KafkaAccess  # noqa: PLC0415

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
