"""The demo's broker security: every party and service its own principal, and proof of refusals.

``secure`` gives the deployment the ACLs its registry implies and issues the credentials the
demo's processes run with: the gateway as ``emining-gateway``, the view consumer hosting the
alert rules as ``emining-alerts``, each ``emining import`` as the organisation it imports for.
``refusals`` then tries, with real credentials, what the ACLs must refuse, and reports the Kafka
error each attempt got: the demo shows the broker saying no, not just our code.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.kafka_admin.acls import SERVICES, desired_acls, org_group_prefix
from infra.kafka_admin.admin import apply_acls, upsert_credential
from producers.keys import key_file_name
from schemas.common import Role
from schemas.topics import PARTICIPANTS, PROJECTS, alerts_topic
from transport.access import KafkaAccess, login_error
from transport.clients import make_consumer, make_producer
from transport.kafka import KafkaError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable
    from pathlib import Path

    from infra.demo.setup import Deployment

ATTEMPT_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class Principals:
    """The credentials the demo's processes use (files under ``<state>/demo/credentials``)."""

    orgs: dict[str, KafkaAccess]
    services: dict[str, KafkaAccess]


async def _issue(admin: KafkaAccess, user: str, directory: Path) -> KafkaAccess:
    """A fresh credential for ``user`` (the old one, if any, stops working), kept 0600."""
    password = await upsert_credential(admin, user)
    path = directory / (key_file_name(user).removesuffix(".key") + ".password")
    await asyncio.to_thread(_write_private, path, password + "\n")
    return admin.as_user(user, password)


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)  # a new file: an old one might have had a looser mode
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


async def secure(dep: Deployment, directory: Path, orgs: Iterable[str]) -> Principals | None:
    """Apply the registry's ACLs and issue credentials to ``orgs`` and the services.

    ``None`` when the broker runs without authentication (``EMINING_KAFKA_SECURITY=none``):
    then every process uses the one plaintext connection.
    """
    if not dep.kafka.sasl:
        return None
    await asyncio.to_thread(directory.mkdir, mode=0o700, parents=True, exist_ok=True)
    await apply_acls(dep.kafka, desired_acls(dep.registry, datetime.now(UTC)))
    wanted_orgs = sorted(set(orgs))
    services = ("gateway", "alerts", "audit")
    issued = await asyncio.gather(
        *(_issue(dep.kafka, org, directory) for org in wanted_orgs),
        *(_issue(dep.kafka, SERVICES[s], directory) for s in services),
    )
    return Principals(orgs=dict(zip(wanted_orgs, issued[:len(wanted_orgs)], strict=True)),
                      services=dict(zip(services, issued[len(wanted_orgs):], strict=True)))


def refusal_parties(dep: Deployment) -> tuple[str, str, str]:
    """A Chinese firm, a Pakistani agency and an auditor of the seeded registry."""
    orgs = sorted(dep.registry.orgs.values(), key=lambda o: o.id)
    firm = next(o.id for o in orgs if o.role is Role.FIRM and o.id.startswith("urn:emining:cn:"))
    agency = next(o.id for o in orgs if o.role is Role.AGENCY)
    auditor = next(o.id for o in orgs if o.role is Role.AUDITOR)
    return firm, agency, auditor


async def _attempt(client: Any, action: Callable[[], Awaitable[Any]]) -> str:
    """Start ``client`` and run ``action``: ``allowed``, or the Kafka error that refused it."""
    try:
        async with asyncio.timeout(ATTEMPT_TIMEOUT_S):
            await client.start()
            await action()
    except KafkaError as exc:
        return type(exc).__name__
    except TimeoutError:
        return "no answer"
    finally:
        await client.stop()
    return "allowed"


async def _write(access: KafkaAccess, topic: str) -> str:
    # Not idempotent: an idempotent producer is refused earlier (InitProducerId) for a
    # principal with no WRITE anywhere; this shows the refusal of the write itself.
    producer = make_producer(access, ATTEMPT_TIMEOUT_S, enable_idempotence=False)
    # An empty value: were it ever accepted, every reader would reject it as malformed.
    return await _attempt(producer, lambda: producer.send_and_wait(topic, b""))


async def _read(access: KafkaAccess, topic: str, group: str | None = None) -> str:
    # With the topic given up front, start() asks for its metadata: an unauthorised topic is
    # refused there; a group is checked when the consumer looks for its coordinator.
    consumer = make_consumer(access, ATTEMPT_TIMEOUT_S, topic, group_id=group,
                             request_timeout_ms=int(ATTEMPT_TIMEOUT_S * 1000))
    return await _attempt(consumer, lambda: consumer.getmany(timeout_ms=2000))


async def _login(access: KafkaAccess) -> str:
    """Kafka's client error code for a login as ``access`` (librdkafka's: aiokafka hides it)."""
    error = await asyncio.to_thread(login_error, access, 5.0)
    return "allowed" if error is None else str(error.name())


async def refusals(dep: Deployment, principals: Principals) -> list[dict[str, Any]]:
    """Out-of-bounds requests made with real credentials, each with the error it got."""
    firm, agency, auditor = refusal_parties(dep)
    as_firm, as_auditor = principals.orgs[firm], principals.orgs[auditor]
    wrong = as_firm.as_user(firm, "not-the-password")
    attempts: list[tuple[str, str, str, Callable[[], Awaitable[str]]]] = [
        (firm, f"write {PARTICIPANTS}", "TopicAuthorizationFailedError",
         lambda: _write(as_firm, PARTICIPANTS)),
        (firm, f"read {alerts_topic(agency)}", "TopicAuthorizationFailedError",
         lambda: _read(as_firm, alerts_topic(agency))),
        (firm, f"read {PROJECTS} in group {org_group_prefix(agency)}views",
         "GroupAuthorizationFailedError",
         lambda: _read(as_firm, PROJECTS, group=f"{org_group_prefix(agency)}views")),
        (firm, f"read {PROJECTS} raw (participants read it through the API)",
         "TopicAuthorizationFailedError",
         lambda: _read(as_firm, PROJECTS, group=f"{org_group_prefix(firm)}raw")),
        (auditor, f"write {PROJECTS}", "TopicAuthorizationFailedError",
         lambda: _write(as_auditor, PROJECTS)),
        (firm, "log in with a wrong password", "_AUTHENTICATION", lambda: _login(wrong)),
    ]
    results = []
    # aiokafka logs each refusal as an error before raising it: here refusals are the point.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        for who, tried, expected, attempt in attempts:
            got = await attempt()  # one at a time: each is a separate story in the summary
            results.append({"principal": f"User:{who}", "tried": tried, "expected": expected,
                            "got": got, "refused": got == expected})
    finally:
        quiet.setLevel(level)
    return results
