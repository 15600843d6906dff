"""``EMINING_KAFKA_SECURITY=none``: a developer's broker without authentication or ACLs.

``topics apply`` still works and says ACLs were skipped; the admin API names the reason.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from infra import local_kafka
from infra.cli import app
from infra.kafka_admin.acls import service_acls
from infra.kafka_admin.admin import SecurityDisabledError, apply_acls, current_acls
from infra.logging import configure_logging
from infra.settings import Settings
from tests.conftest import own_broker
from transport.access import KafkaAccess

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def insecure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A private local broker started with security off (plaintext, no authorizer)."""
    with own_broker(tmp_path_factory.mktemp("kafka-insecure"), "none", "insecure") as settings:
        yield settings


def _invoke(args: list[str], env: dict[str, str | None]) -> Any:
    result = CliRunner().invoke(app, args, env=env)
    configure_logging("warning")
    return result


async def test_the_admin_api_says_security_is_disabled(insecure_broker: Settings) -> None:
    found = await asyncio.to_thread(local_kafka.status, insecure_broker)
    assert found.bootstrap is not None
    plain = KafkaAccess(found.bootstrap)
    with pytest.raises(SecurityDisabledError, match=r"SECURITY_DISABLED.*EMINING_KAFKA_SECURITY"):
        await apply_acls(plain, service_acls("views"))
    assert await current_acls(plain) == frozenset()  # listing is not refused: there are none


async def test_topics_apply_skips_the_acls_with_a_clear_message(
    insecure_broker: Settings,
) -> None:
    env: dict[str, str | None] = {
        "EMINING_STATE_DIR": str(insecure_broker.state_dir), "EMINING_KAFKA_BOOTSTRAP": None,
        "EMINING_KAFKA_SECURITY": "none", "EMINING_KAFKA_USERNAME": None,
        "EMINING_KAFKA_PASSWORD": None, "EMINING_KAFKA_PASSWORD_FILE": None,
    }
    topics = await asyncio.to_thread(_invoke, ["topics", "apply", "--json"], env)
    assert topics.exit_code == 0, topics.output
    assert json.loads(topics.stdout)  # the topic changes, as before
    assert "ACLs skipped: broker security is off (EMINING_KAFKA_SECURITY=none)" in topics.stderr
    acls = await asyncio.to_thread(_invoke, ["acls", "apply", "--json"], env)
    assert acls.exit_code == 0, acls.output
    doc = json.loads(acls.stdout)
    assert doc["created"] == doc["deleted"] == []
    assert "EMINING_KAFKA_SECURITY=none" in doc["skipped"]
