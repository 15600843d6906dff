"""``transport``'s public surface and its one error tree (one ``PublishError``, one
``RegistryUnavailableError``, the local broker's errors under the same ``BrokerError``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import transport
from consumers import registry_follower
from infra import local_kafka
from infra.local_kafka import errors as local_errors
from producers import gateway_state, registry_reader
from schemas.errors import ContractError, EminingError
from transport import errors

ROOT = Path(__file__).resolve().parents[2]


def test_one_publish_error_for_the_sender_and_the_plain_clients() -> None:
    assert issubclass(errors.BrokerUnavailableError, errors.PublishError)
    assert issubclass(errors.PublishTimeoutError, errors.PublishError)
    assert issubclass(errors.PublishError, errors.BrokerError)
    assert issubclass(errors.BrokerError, EminingError)
    assert issubclass(errors.MissingTopicError, ContractError)


def test_the_local_broker_errors_hang_under_transports_broker_error() -> None:
    assert local_kafka.BrokerError is errors.BrokerError
    assert local_kafka.BrokerUnreachableError is errors.BrokerUnreachableError
    assert issubclass(local_errors.PortInUseError, errors.BrokerError)
    assert issubclass(local_errors.JavaNotFoundError, errors.BrokerError)
    assert not hasattr(errors, "PortInUseError")


def test_one_registry_unavailable_error_for_the_gateway_and_the_views() -> None:
    assert gateway_state.RegistryUnavailableError is registry_reader.RegistryUnavailableError
    assert registry_follower.RegistryUnavailableError is registry_reader.RegistryUnavailableError


def test_every_public_name_resolves_to_the_object_of_its_module() -> None:
    from transport.read import read_to_end  # noqa: PLC0415
    from transport.sender import RecordSender  # noqa: PLC0415

    assert transport.read_to_end is read_to_end
    assert transport.RecordSender is RecordSender
    assert transport.PublishError is errors.PublishError
    for name in transport.__all__:
        assert getattr(transport, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = transport.nothing_here  # type: ignore[attr-defined]


def test_importing_the_package_or_its_errors_loads_no_kafka_client() -> None:
    probe = ("import json, sys\nimport transport, transport.errors\n"
             "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    loaded = set(json.loads(out))
    assert "transport.errors" in loaded
    assert "aiokafka" not in loaded
    assert "transport.read" not in loaded
