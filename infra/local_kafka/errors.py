"""What can go wrong running the local Kafka broker: the errors of ``infra.local_kafka`` and its
``access`` module, below both. Reaching a broker (any broker) fails with ``transport.errors``;
``BrokerError``, the root of both, is named here too."""

from __future__ import annotations

from transport.errors import BrokerError, BrokerUnreachableError, MissingCredentialError

__all__ = [
    "BrokerError",
    "BrokerStartError",
    "BrokerStartTimeoutError",
    "BrokerUnreachableError",
    "ExternalBrokerError",
    "JarFetchError",
    "JavaNotFoundError",
    "LegacyStorageError",
    "MavenNotFoundError",
    "MissingCredentialError",
    "PortInUseError",
    "SecurityModeError",
    "StorageFormatError",
]


class JavaNotFoundError(BrokerError):
    """No ``java`` on PATH: the local broker is a JVM process."""


class MavenNotFoundError(BrokerError):
    """No ``mvn`` on PATH: the broker jars are fetched from Maven Central with Maven."""


class JarFetchError(BrokerError):
    """``mvn dependency:copy-dependencies`` failed (often: Maven Central unreachable)."""


class PortInUseError(BrokerError):
    """A port persisted for the local broker is now held by another process."""


class StorageFormatError(BrokerError):
    """``kafka.tools.StorageTool format`` failed."""


class BrokerStartError(BrokerError):
    """The broker process exited before it became ready."""


class BrokerStartTimeoutError(BrokerError):
    """The broker did not answer a metadata request within ``kafka_start_timeout_s``."""


class LegacyStorageError(BrokerError):
    """The local broker's data was formatted before it had credentials: it must be reset."""


class SecurityModeError(BrokerError):
    """The running local broker was started with another ``EMINING_KAFKA_SECURITY``."""


class ExternalBrokerError(BrokerError):
    """The operation only makes sense for the local broker, but an external one is configured."""

