"""A wrong password against the real broker: one clear line, no aiokafka log line before it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from schemas.topics import PARTICIPANTS
from tests.kafka_support import access_env
from tests.unit.test_cli_errors import invoke, one_error_line
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", [("topics", "list"), ("tail", PARTICIPANTS)])
def test_a_wrong_password_is_one_line_naming_the_refused_login(
    kafka_access: KafkaAccess, tmp_path: Path, command: tuple[str, ...],
) -> None:
    if not kafka_access.sasl:
        pytest.skip("the broker takes no password")
    env: dict[str, str | None] = {
        **access_env(kafka_access), "EMINING_STATE_DIR": str(tmp_path / "state"),
        "EMINING_KAFKA_PASSWORD": "not-the-password", "EMINING_KAFKA_PASSWORD_FILE": None,
        "EMINING_LOG_LEVEL": None, "EMINING_TRUST_ANCHOR": base64.b64encode(bytes(32)).decode()}
    line = one_error_line(invoke(env, *command))
    assert f"the broker refused to authenticate User:{kafka_access.username}" in line
