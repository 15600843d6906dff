"""Where the broker is and who we are to it: one object every Kafka client of the bus is built from.

The broker authenticates each organisation and each platform service as its own principal
(SASL/SCRAM-SHA-512, optionally over TLS) and authorises every request against ACLs derived from
the participants registry. A client therefore needs more than ``host:port``: ``KafkaAccess``
carries the address, the security protocol and the credential, and renders them for aiokafka,
FastStream and librdkafka (the admin client), so no client is ever built without them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiokafka.errors import (
    AuthenticationFailedError,
    BrokerResponseError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedSaslMechanismError,
)

if TYPE_CHECKING:
    import ssl

    from faststream.security import BaseSecurity

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
MECHANISM = "SCRAM-SHA-512"

AUTHORIZATION_ERRORS: tuple[type[BrokerResponseError], ...] = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
AUTHENTICATION_ERRORS: tuple[type[Exception], ...] = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    UnsupportedSaslMechanismError,
)


@dataclass(frozen=True, slots=True)
class KafkaAccess:
    """A broker address plus the principal a client acts as. The password never prints."""

    bootstrap: str
    protocol: Protocol = "PLAINTEXT"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    mechanism: str = MECHANISM

    def __post_init__(self) -> None:
        if self.sasl and (not self.username or self.password is None):
            raise ValueError(
                f"{self.protocol} to {self.bootstrap} needs a username and a password"
                " (EMINING_KAFKA_USERNAME / EMINING_KAFKA_PASSWORD)"
            )

    @property
    def sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def servers(self) -> list[str]:
        """``bootstrap`` as a list of ``host:port`` (a cluster's ``h1:p1,h2:p2``): for clients
        that take one string as one host (FastStream's ``KafkaBroker``)."""
        return [server.strip() for server in self.bootstrap.split(",") if server.strip()]

    @property
    def tls(self) -> bool:
        return self.protocol in {"SSL", "SASL_SSL"}

    @property
    def principal(self) -> str:
        """The Kafka principal the broker sees: ``User:<name>``; ``User:ANONYMOUS`` without SASL."""
        return f"User:{self.username}" if self.sasl else "User:ANONYMOUS"

    def as_user(self, username: str, password: str) -> KafkaAccess:
        """The same broker, as another principal (tests, onboarding checks)."""
        return dataclasses.replace(self, username=username, password=password)

    def describe(self) -> str:
        return f"{self.principal} at {self.bootstrap} over {self.protocol}"

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        from aiokafka.helpers import create_ssl_context  # noqa: PLC0415 - TLS only

        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.ca_file) if self.ca_file else None)
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``/``Consumer``/``AdminClient``/``Client``."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.protocol,
        }
        if self.sasl:
            options |= {
                "sasl_mechanism": self.mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.tls:
            options["ssl_context"] = self.ssl_context()
        return options

    def faststream_security(self) -> BaseSecurity | None:
        """The ``security=`` argument of FastStream's ``KafkaBroker``."""
        from faststream.security import BaseSecurity, SASLScram512  # noqa: PLC0415

        if self.sasl:
            assert self.username is not None  # __post_init__
            assert self.password is not None
            return SASLScram512(self.username, self.password, ssl_context=self.ssl_context(),
                                use_ssl=self.tls)
        if self.tls:
            return BaseSecurity(ssl_context=self.ssl_context(), use_ssl=True)
        return None

    def librdkafka(self) -> dict[str, str]:
        """Configuration for confluent-kafka (the admin client for credentials and ACLs)."""
        config = {"bootstrap.servers": self.bootstrap, "security.protocol": self.protocol}
        if self.sasl:
            assert self.username is not None
            assert self.password is not None
            config |= {"sasl.mechanisms": self.mechanism, "sasl.username": self.username,
                       "sasl.password": self.password}
        if self.tls and self.ca_file is not None:
            config["ssl.ca.location"] = str(self.ca_file)
        return config


def refusal(exc: BaseException, access: KafkaAccess, operation: str) -> str | None:
    """A sentence naming the principal and the refused operation, if ``exc`` is a refusal.

    ``None`` when ``exc`` is not about authentication or authorisation (callers keep their own
    message then). The Kafka error name is kept: it is what an operator searches for.
    """
    if isinstance(exc, AUTHORIZATION_ERRORS):
        name = type(exc).__name__
        return (f"the broker refused {operation} to {access.principal} ({name}): the ACLs"
                " derived from the registry do not allow it")
    if isinstance(exc, AUTHENTICATION_ERRORS) or "authentication" in str(exc).lower():
        return (f"the broker refused to authenticate {access.principal} at {access.bootstrap}"
                f" ({type(exc).__name__}: {exc}): wrong or revoked credential"
                " (EMINING_KAFKA_USERNAME / EMINING_KAFKA_PASSWORD)")
    return None


def login_error(access: KafkaAccess, timeout_s: float = 5.0) -> Any | None:
    """The error librdkafka gets when it logs in as ``access``; ``None`` if it got in.

    A ``confluent_kafka.KafkaError``: ``.name()`` is Kafka's client error code, e.g.
    ``_AUTHENTICATION`` (SASL refused), ``_SSL`` (TLS failed), ``_TRANSPORT`` (no broker).
    aiokafka only raises a bare "Unable to bootstrap" for all three, so this is how the bus
    tells them apart.
    """
    from confluent_kafka import KafkaError, KafkaException  # noqa: PLC0415 - failure path only
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    seen: list[KafkaError] = []
    config: dict[str, Any] = {**access.librdkafka(), "log_level": 0, "error_cb": seen.append}
    admin = AdminClient(config)
    telling = {KafkaError._AUTHENTICATION, KafkaError._SSL}  # noqa: SLF001 - public codes
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(KafkaException):  # the callback says why
            admin.list_topics(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
            return None
        admin.poll(0.05)  # error callbacks only run from poll()
        for error in seen:
            if error.code() in telling:
                return error
    return seen[-1] if seen else None


def diagnose(access: KafkaAccess, timeout_s: float = 5.0) -> str | None:
    """Why a client could not connect, when aiokafka only says "Unable to bootstrap".

    A sentence when the cause is a refused SASL login or a failed TLS handshake; ``None``
    otherwise (the broker may simply be down).
    """
    error = login_error(access, timeout_s)
    if error is None:
        return None
    if error.name() == "_AUTHENTICATION":
        return (f"the broker refused to authenticate {access.principal} at"
                f" {access.bootstrap}: {error.str()} (wrong, missing or revoked credential:"
                " EMINING_KAFKA_USERNAME / EMINING_KAFKA_PASSWORD)")
    if error.name() == "_SSL":
        return (f"TLS to {access.bootstrap} failed: {error.str()} (is EMINING_KAFKA_CA_FILE"
                " the CA that signed the broker's certificate?)")
    return None
