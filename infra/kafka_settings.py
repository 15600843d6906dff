"""Where the broker is and who this process is to it, from the settings: ``Settings`` →
``KafkaAccess``. The clients themselves are ``transport``'s (``transport.clients``,
``transport.read``, ``transport.sender``), built from what this returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.local_kafka.access import PROTOCOLS, secret, settings_access
from transport.errors import BrokerError, MissingCredentialError

from . import local_kafka

if TYPE_CHECKING:
    from transport.access import KafkaAccess

    from .settings import Settings

__all__ = [
    "PROTOCOLS",
    "NoBrokerError",
    "audit_access",
    "bootstrap_servers",
    "kafka_access",
]


class NoBrokerError(BrokerError):
    """Neither ``EMINING_KAFKA_BOOTSTRAP`` nor a running local broker says where Kafka is."""


def bootstrap_servers(settings: Settings) -> str:
    """``EMINING_KAFKA_BOOTSTRAP`` if set, else the running local broker's address."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    found = local_kafka.status(settings)
    if found.running and found.bootstrap is not None:
        return found.bootstrap
    raise NoBrokerError(
        f"no broker: run `emining kafka up` or set EMINING_KAFKA_BOOTSTRAP"
        f" (no local broker is running in {local_kafka.Layout.of(settings).root})"
    )


def audit_access(settings: Settings, serving: KafkaAccess) -> KafkaAccess | None:
    """The principal ``emining serve``'s audit pages read the whole log as: the configured
    ``EMINING_AUDIT_KAFKA_*`` credential, else ``serving`` itself when it may read everything (no
    authentication, or the local broker's admin); ``None``: the pages point to the CLI."""
    username = settings.audit_kafka_username
    if username:
        password = secret(settings.audit_kafka_password, settings.audit_kafka_password_file,
                           "EMINING_AUDIT_KAFKA_PASSWORD_FILE")
        if password is None:
            raise MissingCredentialError(
                "EMINING_AUDIT_KAFKA_USERNAME is set without EMINING_AUDIT_KAFKA_PASSWORD (or"
                " EMINING_AUDIT_KAFKA_PASSWORD_FILE)")
        return serving.as_user(username, password)
    if not serving.sasl or (not settings.kafka_bootstrap
                            and serving.username == local_kafka.ADMIN):
        return serving
    return None


def kafka_access(settings: Settings) -> KafkaAccess:
    """The broker and the principal this process acts as, from ``EMINING_KAFKA_*``.

    Against the project's local broker, no username means its admin (the operator on their
    own machine); against an external cluster a credential must be given.
    """
    bootstrap = bootstrap_servers(settings)
    if settings.kafka_bootstrap:
        return settings_access(settings, bootstrap)
    return settings_access(
        settings, bootstrap,
        local_ca=lambda: local_kafka.Layout.of(settings).tls_dir / "ca.pem",
        local_admin=lambda: (local_kafka.ADMIN, local_kafka.admin_password(settings)))
