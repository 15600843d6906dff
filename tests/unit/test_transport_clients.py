"""The client properties file for the stock Kafka tools, and the tools' pinned version."""

from __future__ import annotations

import re
from pathlib import Path

from infra import local_kafka
from transport.access import KafkaAccess
from transport.clients import client_properties, librdkafka_properties


def _props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))


def test_scram_over_tls_names_the_mechanism_the_jaas_login_and_the_pem_ca() -> None:
    access = KafkaAccess("kafka.example:9093", "SASL_SSL", "urn:emining:cn:ent:acme",
                         'pa"ss\\word', Path("/etc/emining/ca.pem"))
    props = _props(client_properties(access))
    assert props["bootstrap.servers"] == "kafka.example:9093"
    assert props["security.protocol"] == "SASL_SSL"
    assert props["sasl.mechanism"] == "SCRAM-SHA-512"
    # JAAS escapes " and \ inside quotes; the .properties format then doubles every \
    assert props["sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="urn:emining:cn:ent:acme" password="pa\\\\"ss\\\\\\\\word";')
    assert props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == "/etc/emining/ca.pem"


def test_plaintext_has_no_sasl_and_librdkafka_uses_its_own_names() -> None:
    plain = _props(client_properties(KafkaAccess("localhost:9092")))
    assert plain == {"bootstrap.servers": "localhost:9092", "security.protocol": "PLAINTEXT"}
    scram = _props(librdkafka_properties(KafkaAccess("h:1", "SASL_PLAINTEXT", "u", "p")))
    assert scram == {"bootstrap.servers": "h:1", "security.protocol": "SASL_PLAINTEXT",
                     "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "u",
                     "sasl.password": "p"}


def test_the_tools_are_pinned_to_the_brokers_kafka_version() -> None:
    version = re.search(r"<kafka.version>(.+)</kafka.version>", local_kafka.TOOLS_POM.read_text())
    assert version is not None
    assert version.group(1) == local_kafka.kafka_version()
