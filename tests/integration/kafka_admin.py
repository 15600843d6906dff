"""One admin client per operation, for fixtures that create topics and delete them afterwards.

A fixture's set-up and tear-down may be minutes apart; aiokafka's admin client does not retry a
request on a connection the broker closed meanwhile (idle connections, a restarted broker), so
each operation opens its own client (SCRAM makes that a few milliseconds more).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from transport.access import KafkaAccess


@asynccontextmanager
async def kafka_admin(kafka: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**kafka.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(kafka: KafkaAccess, topics: Sequence[NewTopic]) -> None:
    async with kafka_admin(kafka) as admin:
        await admin.create_topics(list(topics))


async def delete_topics(kafka: KafkaAccess, names: Sequence[str]) -> None:
    async with kafka_admin(kafka) as admin:
        await admin.delete_topics(list(names))
