"""What can go wrong reaching Kafka, for every client of the bus: one tree, below everything
that connects (``infra.local_kafka.errors`` adds the errors of running a local broker)."""

from __future__ import annotations

from schemas.errors import ContractError, EminingError


class BrokerError(EminingError):
    """Something about running or reaching the Kafka broker went wrong."""


class BrokerUnreachableError(BrokerError):
    """No Kafka broker answers at the configured bootstrap address."""


class MissingCredentialError(BrokerError):
    """The broker needs a credential (SCRAM) and the settings give none."""


class PublishError(BrokerError):
    """The broker did not take some records: refused (too large, unknown topic, not
    authorised...) or not acknowledged within the deadline."""


class PublishTimeoutError(PublishError):
    """A record was not acknowledged by the broker within the client's timeout."""


class BrokerUnavailableError(PublishError):
    """No broker answered within the time bound; nothing was sent."""


class MissingTopicError(ContractError):
    """A topic to read does not exist (or the principal may not see it)."""

    def __init__(self, topic: str) -> None:
        super().__init__(f"topic {topic} does not exist: run `emining topics apply`")
        self.topic = topic
