"""From settings to a ``KafkaAccess``: the protocol, the credential (value or file), and a quick
check that something listens before a missing credential is blamed. Below the rest of
``infra.local_kafka`` and ``infra.kafka_settings``, which both build clients from it (the local
broker's status probes an external cluster with it; ``kafka_settings.kafka_access`` adds the local
broker's defaults).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from transport.access import KafkaAccess, Protocol
from transport.errors import BrokerUnreachableError, MissingCredentialError

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import SecretStr

    from infra.settings import Settings

log = structlog.get_logger("infra.kafka")

PROTOCOLS: dict[str, Protocol] = {
    "none": "PLAINTEXT", "scram": "SASL_PLAINTEXT", "scram-tls": "SASL_SSL",
}


def password_of(settings: Settings) -> str | None:
    return secret(settings.kafka_password, settings.kafka_password_file,
                   "EMINING_KAFKA_PASSWORD_FILE")


def secret(value: SecretStr | None, file: Path | None, name: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        try:
            text = file.read_text("utf-8")
        except OSError as exc:
            raise MissingCredentialError(f"cannot read {name}={file}: {exc}") from exc
        password = text.splitlines()[0].strip() if text.strip() else ""
        if not password:
            raise MissingCredentialError(f"{name}={file} is empty")
        return password
    return None


_LOOPBACK = ("127.", "localhost:", "[::1]:")
_warned: set[str] = set()


def _warn_cleartext(bootstrap: str) -> None:
    """SASL without TLS sends every record in the clear: fine on loopback, not across a network."""
    remote = [h for h in bootstrap.split(",") if not h.strip().startswith(_LOOPBACK)]
    if remote and bootstrap not in _warned:
        _warned.add(bootstrap)
        log.warning("kafka_traffic_not_encrypted", bootstrap=bootstrap,
                    hint="EMINING_KAFKA_SECURITY=scram-tls for a broker on another machine")


UNREACHABLE_PROBE_S = 2.0


def _unreachable(bootstrap: str, timeout_s: float = UNREACHABLE_PROBE_S) -> str | None:
    """Why no server of ``bootstrap`` accepts a TCP connection; ``None`` if one does."""
    reasons = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return None
        except (OSError, ValueError) as exc:
            reasons.append(f"{server.strip()}: {getattr(exc, 'strerror', None) or exc}")
    return "; ".join(reasons)


def settings_access(
    settings: Settings, bootstrap: str, *,
    local_ca: Callable[[], Path] | None = None,
    local_admin: Callable[[], tuple[str, str]] | None = None,
) -> KafkaAccess:
    """The principal ``settings`` name at ``bootstrap``. For the project's local broker,
    ``local_ca`` is its CA (when none is configured) and ``local_admin`` its admin credential
    (when no username is configured); an external cluster has neither."""
    protocol = PROTOCOLS[settings.kafka_security]
    if protocol == "PLAINTEXT":
        return KafkaAccess(bootstrap, protocol)
    ca_file = settings.kafka_ca_file
    if ca_file is None and local_ca is not None and protocol == "SASL_SSL":
        ca_file = local_ca()
    username, password = settings.kafka_username, password_of(settings)
    if username is None and local_admin is not None:
        username, password = local_admin()
    if not username or password is None:
        unreachable = _unreachable(bootstrap)
        if unreachable is not None:
            raise BrokerUnreachableError(
                f"no Kafka broker answers at {bootstrap} ({unreachable}): check"
                " EMINING_KAFKA_BOOTSTRAP, or run `emining kafka up` (and no credential is set"
                " either: EMINING_KAFKA_USERNAME, EMINING_KAFKA_PASSWORD)"
            )
        raise MissingCredentialError(
            f"no credential for the broker at {bootstrap}: it takes SCRAM ({protocol}); set"
            " EMINING_KAFKA_USERNAME and EMINING_KAFKA_PASSWORD (or"
            " EMINING_KAFKA_PASSWORD_FILE) to the credential the operator issued"
        )
    if protocol == "SASL_PLAINTEXT":
        _warn_cleartext(bootstrap)
    return KafkaAccess(bootstrap, protocol, username, password, ca_file)


