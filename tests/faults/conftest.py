"""A three-node local KRaft cluster for the cluster and fault tests (never the user's own)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from infra import local_kafka
from tests.conftest import _first_line, local_broker_settings, no_kafka

if TYPE_CHECKING:
    from collections.abc import Iterator

    from infra.settings import Settings


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Three nodes (broker+controller each) in a session tmp dir, SCRAM and ACLs as always;
    ports picked free at start, so never the session broker's. Stopped at the end."""
    settings = local_broker_settings(tmp_path_factory.mktemp("kafka-cluster")).model_copy(
        update={"kafka_security": "scram"})
    try:
        local_kafka.up(settings, owner_pid=os.getpid(), brokers=3)
    except local_kafka.BrokerError as exc:
        local_kafka.down(settings)
        no_kafka([f"cannot start a local three-node cluster: {_first_line(exc)}"])
    try:
        yield settings
    finally:
        local_kafka.down(settings)
