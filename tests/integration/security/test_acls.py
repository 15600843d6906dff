"""Each organisation its own principal: what the broker lets it do, asserted by Kafka's error.

Every refusal is checked by its exact aiokafka error class, on the real authenticating broker
(``kafka_access``: SASL/SCRAM-SHA-512, StandardAuthorizer, deny by default).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

from infra.kafka_admin.acls import Acl, org_acls, service_acls, service_principal
from infra.kafka_admin.admin import (
    apply_acls,
    credential_users,
    current_acls,
    delete_credential,
    upsert_credential,
)
from infra.kafka_admin.topics import apply_topics
from schemas.alerts import alerts_topic_spec
from schemas.common import Role
from schemas.topics import DLQ, PARTICIPANTS, PROJECTS, SHARED_TOPICS, alerts_topic
from tests.integration.security.conftest import assert_writes, consumer, producer
from transport.access import diagnose, login_error

if TYPE_CHECKING:
    from tests.integration.security.conftest import Principals
    from transport.access import KafkaAccess

pytestmark = pytest.mark.integration


async def _refused_start(client, error: type[Exception]) -> None:
    """``client.start()`` fails with exactly ``error``; the client is closed either way."""
    try:
        with pytest.raises(error):
            await client.start()
    finally:
        await client.stop()


async def _read_one(access: KafkaAccess, topic: str, partition: int, offset: int,
                    group_id: str | None = None):
    reader = consumer(access, group_id=group_id)
    try:
        await reader.start()
        tp = TopicPartition(topic, partition)
        reader.assign([tp])
        reader.seek(tp, offset)
        record = await asyncio.wait_for(reader.getone(), 15)
        if group_id is not None:
            await reader.commit()  # the group is used, not just named
        return record
    finally:
        await reader.stop()


async def _join(member) -> None:
    """Start a group member and fetch: joining the group happens at one of the two."""
    await member.start()
    await asyncio.wait_for(member.getone(), 15)


async def _authentication_refused(access: KafkaAccess) -> None:
    """A new connection as ``access`` fails, with Kafka's client error code for a refused SASL
    login (aiokafka only raises a bare KafkaConnectionError, so librdkafka names the code), and
    the diagnosis says so."""
    await _refused_start(producer(access, idempotent=False), KafkaConnectionError)
    error = await asyncio.to_thread(login_error, access)
    assert error is not None
    assert error.name() == "_AUTHENTICATION"
    assert "invalid credentials" in error.str()
    why = await asyncio.to_thread(diagnose, access)
    assert why is not None
    assert f"refused to authenticate {access.principal}" in why
    assert "SASL authentication" in why


async def test_a_firm_cannot_write_the_registry(principals: Principals) -> None:
    _, firm = await principals.onboard("firm")
    await assert_writes(firm, refused=(PARTICIPANTS, DLQ))


async def test_a_firm_writes_a_shared_topic_but_reads_it_only_through_the_api(
    principals: Principals,
) -> None:
    """The shared record holds other parties' restricted fields (buyers, CNICs): the broker
    cannot tell rows apart, so only the platform's services and auditors read it raw."""
    org, firm = await principals.onboard("firm")
    sender = producer(firm)
    try:
        await sender.start()
        meta = await sender.send_and_wait(PROJECTS, b"our own project event", key=b"PRJ-1")
    finally:
        await sender.stop()
    with pytest.raises(TopicAuthorizationFailedError):  # WRITE lets it see the topic, not read
        await _read_one(firm, PROJECTS, meta.partition, meta.offset, group_id=f"{org}.follower")
    _, auditor = await principals.onboard("auditor", Role.AUDITOR)
    record = await _read_one(auditor, PROJECTS, meta.partition, meta.offset)
    assert record.value == b"our own project event"


async def test_a_firm_reads_only_its_own_alerts_topic(principals: Principals) -> None:
    org, firm = await principals.onboard("firm")
    other, _ = await principals.onboard("other")
    await _refused_start(consumer(firm, alerts_topic(other)), TopicAuthorizationFailedError)
    # READ, not only metadata: the platform writes the firm an alert, the firm fetches it.
    await apply_topics(principals.admin, [alerts_topic_spec(org)])
    sender = producer(principals.admin)
    try:
        await sender.start()
        meta = await sender.send_and_wait(alerts_topic(org), b"an alert for the firm", key=b"a")
    finally:
        await sender.stop()
    record = await _read_one(firm, alerts_topic(org), meta.partition, meta.offset)
    assert record.value == b"an alert for the firm"


async def test_a_firm_cannot_join_another_organisations_consumer_group(
    principals: Principals,
) -> None:
    org, firm = await principals.onboard("firm")
    other, _ = await principals.onboard("other")
    intruder = consumer(firm, PROJECTS, group_id=f"{other}.views")
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await _join(intruder)
    finally:
        await intruder.stop()
    # a group name that merely starts with the org's URN is not its group either
    lookalike = consumer(firm, PROJECTS, group_id=f"{org}-views")
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await _join(lookalike)
    finally:
        await lookalike.stop()


async def test_an_auditor_reads_every_shared_topic_and_writes_none(
    principals: Principals, kafka_access: KafkaAccess,
) -> None:
    firm_org, _ = await principals.onboard("firm")
    _, auditor = await principals.onboard("auditor", Role.AUDITOR)
    marker = uuid.uuid4().hex.encode()
    sender = producer(kafka_access)
    try:
        await sender.start()
        written = {topic: await sender.send_and_wait(topic, marker, key=b"audit")
                   for topic in (*SHARED_TOPICS, PARTICIPANTS, alerts_topic(firm_org))}
    finally:
        await sender.stop()
    for topic, meta in written.items():
        record = await _read_one(auditor, topic, meta.partition, meta.offset)
        assert record.value == marker, topic

    await assert_writes(auditor, refused=(*SHARED_TOPICS, PARTICIPANTS, DLQ), idempotent=False)
    # an idempotent producer is refused even earlier: it may write no topic at all
    await _refused_start(producer(auditor), ClusterAuthorizationFailedError)


async def test_a_revoked_organisation_is_refused_at_once(principals: Principals) -> None:
    org, firm = await principals.onboard("firm")
    sender = producer(firm)
    try:
        await sender.start()
        await sender.send_and_wait(PROJECTS, b"before offboarding", key=b"PRJ-1")
        changes = await principals.offboard(org)
        assert {a.principal for a in changes.deleted} == {f"User:{org}"}
        assert set(changes.deleted) == org_acls(org, Role.FIRM)
        started = time.monotonic()
        with pytest.raises(TopicAuthorizationFailedError):  # the open connection, next send
            await sender.send_and_wait(PROJECTS, b"after offboarding", key=b"PRJ-1")
        assert time.monotonic() - started < 5
    finally:
        await sender.stop()
    assert org not in await credential_users(principals.admin)
    await _authentication_refused(firm)  # and no new connection


async def test_a_wrong_password_is_refused(principals: Principals) -> None:
    org, firm = await principals.onboard("firm")
    await _authentication_refused(firm.as_user(org, "not-the-password"))
    await _authentication_refused(firm.as_user(f"{org}-nobody", "no-such-user"))


async def test_rotating_a_credential_ends_the_old_password(principals: Principals) -> None:
    org, old = await principals.onboard("firm")
    new = old.as_user(org, await upsert_credential(principals.admin, org))
    assert new.password != old.password
    await _authentication_refused(old)
    sender = producer(new)
    try:
        await sender.start()
        await sender.send_and_wait(PROJECTS, b"with the new password", key=b"PRJ-1")
    finally:
        await sender.stop()


def _admin_client(access: KafkaAccess) -> AdminClient:
    return AdminClient({**access.librdkafka(), "log_level": 0})


def _hand_made(admin: AdminClient, bindings: list[AclBinding]) -> None:
    for future in admin.create_acls(bindings).values():
        future.result(timeout=15)


async def test_apply_acls_is_idempotent_and_removes_hand_made_acls_of_managed_principals(
    principals: Principals, kafka_access: KafkaAccess,
) -> None:
    org, _ = await principals.onboard("firm")
    auditor, _ = await principals.onboard("auditor", Role.AUDITOR)
    expected = org_acls(org, Role.FIRM) | org_acls(auditor, Role.AUDITOR)
    assert {a for a in await current_acls(kafka_access) if a.principal in principals.principals
            } == expected
    again = await principals.sync()
    assert (again.created, again.deleted, again.deleted_other) == ((), (), ())

    outsider = f"User:test-outsider-{principals.slug}"
    admin = _admin_client(kafka_access)
    extra = [
        AclBinding(ResourceType.TOPIC, PARTICIPANTS, ResourcePatternType.LITERAL,
                   f"User:{org}", "*", AclOperation.WRITE, AclPermissionType.ALLOW),
        AclBinding(ResourceType.TOPIC, PROJECTS, ResourcePatternType.LITERAL,
                   f"User:{org}", "*", AclOperation.READ, AclPermissionType.DENY),
        AclBinding(ResourceType.TOPIC, PROJECTS, ResourcePatternType.LITERAL,
                   outsider, "*", AclOperation.READ, AclPermissionType.ALLOW),
    ]
    await asyncio.to_thread(_hand_made, admin, extra)
    try:
        fixed = await principals.sync()
        assert fixed.created == ()
        assert fixed.deleted == (Acl("topic", PARTICIPANTS, "literal", f"User:{org}", "WRITE"),)
        assert len(fixed.deleted_other) == 1
        assert "DENY" in fixed.deleted_other[0]
        # another principal's ACL is never ours to remove
        assert Acl("topic", PROJECTS, "literal", outsider, "READ") in await current_acls(
            kafka_access)
        last = await principals.sync()
        assert (last.created, last.deleted, last.deleted_other) == ((), (), ())
    finally:
        outsider_filter = AclBindingFilter(
            ResourceType.TOPIC, PROJECTS, ResourcePatternType.LITERAL, outsider, "*",
            AclOperation.ANY, AclPermissionType.ANY)
        await asyncio.to_thread(
            lambda: [f.result(15) for f in admin.delete_acls([outsider_filter]).values()])


async def test_the_alerts_service_creates_alerts_topics_and_writes_nothing_shared(
    principals: Principals, kafka_access: KafkaAccess,
) -> None:
    """The alerts worker creates a new organisation's topic on first use, then re-checks it."""
    user = service_principal("alerts").removeprefix("User:")
    password = await upsert_credential(kafka_access, user)
    try:
        await apply_acls(kafka_access, service_acls("alerts"), only={f"User:{user}"})
        alerts = kafka_access.as_user(user, password)
        org = principals.org("newcomer")
        spec = alerts_topic_spec(org)
        principals.alert_topics.append(spec.name)
        [created] = await apply_topics(alerts, [spec])
        assert created.action == "created"
        [again] = await apply_topics(alerts, [spec])  # DescribeConfigs on its own topic
        assert again.action == "unchanged"
        await assert_writes(alerts, allowed=(spec.name, DLQ), refused=(PROJECTS, PARTICIPANTS))
    finally:
        await delete_credential(kafka_access, user)
