"""``transport.faststream``: the view consumer's FastStream broker, built from a ``KafkaAccess``
(the address as a list, the principal's credential, no topic auto-creation, bounded requests),
and the pass-through parser that hands a batch's records over untouched."""

from __future__ import annotations

from transport.access import KafkaAccess
from transport.faststream import make_broker, no_body, raw_batch


def test_the_broker_is_built_from_the_access_and_the_callers_options() -> None:
    access = KafkaAccess("h1:9092, h2:9092", "SASL_PLAINTEXT", "views", "s3cret")
    broker = make_broker(access, timeout_s=7.5, graceful_timeout=12.0)
    connection = broker._connection_kwargs
    assert connection["bootstrap_servers"] == ["h1:9092", "h2:9092"]
    assert (connection["security_protocol"], connection["sasl_mechanism"],
            connection["sasl_plain_username"], connection["sasl_plain_password"]) == (
        "SASL_PLAINTEXT", "SCRAM-SHA-512", "views", "s3cret")
    assert connection["request_timeout_ms"] == 7500
    assert broker.config.broker_config.allow_auto_create_topics is False
    assert broker.config.broker_config.graceful_timeout == 12.0


async def test_a_batch_reaches_the_subscriber_untouched() -> None:
    records = (object(), object())
    message = await raw_batch(records)
    assert message.raw_message is records
    assert message.body == b""
    assert await no_body(message) is None  # type: ignore[func-returns-value]
