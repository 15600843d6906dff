"""What the ``emining views`` commands share: the views store opened with the freshness of
what it applied, and the ``--json`` option.

A helper of the room's command modules (``views``, ``views_run``) only:
``tests/unit/test_import_order.py`` (``CLI_HELPERS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import deferred
from schemas.errors import EminingError

if TYPE_CHECKING:
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
    from transport.access import KafkaAccess
else:  # imported when a command first uses them: `emining` starts light
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    KafkaAccess = deferred("transport.access", "KafkaAccess")

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


async def with_store(work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run ``work(store, freshness)``; freshness answers without a broker (end offsets null)."""
    from consumers.config import ViewTopics  # noqa: PLC0415
    from consumers.freshness import Freshness  # noqa: PLC0415
    from consumers.store import ViewStore  # noqa: PLC0415

    settings = Settings()
    try:
        kafka: KafkaAccess | None = kafka_access(settings)
    except EminingError:
        kafka = None
    store = ViewStore(settings.views_store_url)
    freshness = Freshness(kafka, ViewTopics().consumed(), timeout_s=3.0)
    try:
        await store.open()
        return await work(store, freshness)
    finally:
        await freshness.close()
        await store.close()

