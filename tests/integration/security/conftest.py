"""Organisations with their own broker principals, for the security tests.

Scope of ``apply_acls`` here: the session broker is shared by every integration test, and
``apply_acls`` deletes each *managed* ACL that is not desired. A test applying the policy of
its own small registry unscoped would wipe every other organisation's ACLs on the broker. So
``Principals.sync`` always passes ``only=`` the principals the test created (each test uses
fresh org slugs from ``unique_name``), exactly as ``emining participants add/offboard`` scope
their changes to one organisation. Only ``emining acls apply``/``topics apply`` apply the whole
registry unscoped; the CLI test below reads a registry of its own trust anchor, so it runs only
the scoped commands.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAuthorizationFailedError

from infra.kafka_admin.acls import desired_acls, org_principal
from infra.kafka_admin.admin import AclChanges, apply_acls, delete_credential, upsert_credential
from infra.kafka_admin.topics import apply_topics
from schemas.alerts import alerts_topic_spec
from schemas.common import Names, Role, Side
from schemas.participants import OrganisationOffboarded, OrganisationOnboarded
from schemas.registry import Registry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from transport.access import KafkaAccess

CLIENT_TIMEOUT_MS = 10_000


def producer(access: KafkaAccess, *, idempotent: bool = True) -> AIOKafkaProducer:
    """Not started. ``idempotent=False`` needs no cluster-level right at start-up."""
    return AIOKafkaProducer(**access.aiokafka(), enable_idempotence=idempotent, acks="all",
                            request_timeout_ms=CLIENT_TIMEOUT_MS)


async def assert_writes(access: KafkaAccess, *, allowed: Sequence[str] = (),
                        refused: Sequence[str] = (), idempotent: bool = True) -> None:
    """As ``access``: each ``allowed`` topic takes a record, each ``refused`` one is refused with
    exactly TopicAuthorizationFailedError."""
    sender = producer(access, idempotent=idempotent)
    try:
        await sender.start()
        for topic in allowed:
            await sender.send_and_wait(topic, b"allowed to write here", key=b"k")
        for topic in refused:
            with pytest.raises(TopicAuthorizationFailedError):
                await sender.send_and_wait(topic, b"never written", key=b"k")
    finally:
        await sender.stop()


def consumer(access: KafkaAccess, *topics: str, group_id: str | None = None,
             **options: Any) -> AIOKafkaConsumer:
    """Not started. With ``topics``, ``start()`` already asks the broker for their metadata."""
    return AIOKafkaConsumer(*topics, **access.aiokafka(), group_id=group_id,
                            enable_auto_commit=False, auto_offset_reset="earliest",
                            request_timeout_ms=CLIENT_TIMEOUT_MS, **options)


@dataclass
class Principals:
    """A small registry built in the test, mirrored on the broker: credentials and ACLs."""

    admin: KafkaAccess
    slug: str
    registry: Registry = field(default_factory=Registry)
    passwords: dict[str, str] = field(default_factory=dict)
    alert_topics: list[str] = field(default_factory=list)

    def org(self, name: str, kind: str = "ent") -> str:
        return f"urn:emining:cn:{kind}:{self.slug}-{name}"

    @property
    def principals(self) -> set[str]:
        return {org_principal(org) for org in self.registry.orgs}

    async def onboard(self, name: str, role: Role = Role.FIRM) -> tuple[str, KafkaAccess]:
        """Onboard ``<slug>-<name>``: registry, alerts topic, credential, ACLs."""
        org = self.org(name, "aud" if role is Role.AUDITOR else "ent")
        at = datetime.now(UTC) - timedelta(seconds=1)
        self.registry.apply(OrganisationOnboarded(org_id=org, names=Names(en=name),
                                                  side=Side.CN, role=role), at)
        spec = alerts_topic_spec(org)
        await apply_topics(self.admin, [spec])
        self.alert_topics.append(spec.name)
        self.passwords[org] = await upsert_credential(self.admin, org)
        await self.sync()
        return org, self.admin.as_user(org, self.passwords[org])

    async def offboard(self, org: str) -> AclChanges:
        """What ``emining participants offboard`` does: registry event, credential, ACLs."""
        now = datetime.now(UTC)
        self.registry.apply(OrganisationOffboarded(org_id=org, effective_at=now,
                                                   reason="test"), now)
        assert await delete_credential(self.admin, org)
        return await self.sync(now + timedelta(milliseconds=1))

    async def sync(self, at: datetime | None = None) -> AclChanges:
        """Apply the registry-derived ACLs, scoped to this test's principals."""
        return await apply_acls(self.admin, desired_acls(self.registry, at or datetime.now(UTC)),
                                only=self.principals)

    async def cleanup(self) -> None:
        for org in self.registry.orgs:
            await delete_credential(self.admin, org)
        if self.registry.orgs:
            await apply_acls(self.admin, frozenset(), only=self.principals)
        if self.alert_topics:
            client = AIOKafkaAdminClient(**self.admin.aiokafka())
            try:
                await client.start()
                await client.delete_topics(self.alert_topics)
            finally:
                await client.close()


@pytest.fixture
async def principals(
    kafka_access: KafkaAccess, unique_name: Callable[[str], str], catalogue_applied: Any
) -> AsyncIterator[Principals]:
    """Fresh organisations ``urn:emining:cn:ent:t<uuid>-<name>``, removed from the broker after."""
    slug = "t" + unique_name("org").rsplit(".", 1)[1]
    made = Principals(kafka_access, slug)
    try:
        yield made
    finally:
        await made.cleanup()

