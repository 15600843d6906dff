"""What the ``emining participants`` commands share: publishing registry events signed by the
operator key, issuing an organisation's Kafka credential and ACLs, and reading their options
(dates, public keys, events that must validate).

A helper of the room's command modules (``participants``, ``participants_rights``,
``participants_registry``) only: ``tests/unit/test_import_order.py`` (``CLI_HELPERS``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import (
    console,
    deferred,
    err_console,
    fail,
    parse_moment,
    print_json,
    run,
)
from schemas.errors import EminingError

if TYPE_CHECKING:
    from infra import compose
    from infra.kafka_admin.acls import org_acls, org_principal
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
    from producers.keys import load_key
    from schemas.signing import Verifier, unb64
else:  # imported when a command first uses them: `emining` starts light
    compose = deferred("infra.compose")
    org_acls = deferred("infra.kafka_admin.acls", "org_acls")
    org_principal = deferred("infra.kafka_admin.acls", "org_principal")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    load_key = deferred("producers.keys", "load_key")
    Verifier = deferred("schemas.signing", "Verifier")
    unb64 = deferred("schemas.signing", "unb64")

if TYPE_CHECKING:
    from infra.kafka_admin.admin import AclChanges
    from schemas.base import EventData
    from schemas.enums import Role
    from schemas.registry import OrgRecord


def now_utc() -> datetime:
    return datetime.now(UTC)


async def publish_registry(settings: Settings, events: list[EventData]) -> None:
    key = compose.operator_key(settings)
    async with compose.publisher(settings, key, "registry", registry=None) as pub:
        from producers.publisher import Draft  # noqa: PLC0415 - keep CLI start-up light

        await pub.publish_many([Draft(e) for e in events])


def events_json(events: list[EventData]) -> list[dict[str, Any]]:
    return [
        {"type": e.ce_type(), "data": e.model_dump(mode="json", exclude_none=True)}
        for e in events
    ]


def print_published(events: list[EventData]) -> None:
    for event in events:
        console.print(f"published {event.ce_type()} for {event.subject}", highlight=False)


def emit(events: list[EventData], as_json: bool) -> None:
    run(publish_registry(Settings(), events))
    if as_json:
        print_json(events_json(events))
        return
    print_published(events)


# --------------------------------------------------------------------------- broker principals


class CredentialIncompleteError(EminingError):
    """The registry changed but the organisation's credential or ACLs could not follow."""


def security_on(settings: Settings) -> bool:
    return settings.kafka_security != "none"


async def issue_credential(settings: Settings, org: str, role: Role) -> tuple[str, AclChanges]:
    """A new credential for ``org`` (the old one stops working) and exactly its ACLs."""
    from infra.kafka_admin.admin import apply_acls, upsert_credential  # noqa: PLC0415 - start-up

    kafka = kafka_access(settings)
    try:
        password = await upsert_credential(kafka, org)
        changes = await apply_acls(kafka, org_acls(org, role), only={org_principal(org)})
    except EminingError as exc:
        raise CredentialIncompleteError(
            f"{exc}\n{org} is on the registry but may lack its credential or ACLs: retry with"
            f" `emining participants credential --org {org}`"
        ) from exc
    return password, changes


def print_credential(org: str, password: str) -> None:
    """The credential, once: shell-ready lines on stdout, the warning on stderr."""
    console.print(f"EMINING_KAFKA_USERNAME={org}\nEMINING_KAFKA_PASSWORD={password}",
                  highlight=False, markup=False, soft_wrap=True)
    err_console.print(f"[yellow]shown once:[/] the Kafka credential of {org}; give it to the"
                      " organisation now (rotate: `emining participants credential`)",
                      highlight=False, soft_wrap=True)


async def registry_org(settings: Settings, org: str, *, active: bool = True) -> OrgRecord:
    registry = await compose.load_registry(settings)
    record = registry.orgs.get(org)
    if record is None:
        fail(f"{org} is not on the registry")
    if active and not record.active_at(now_utc()):
        fail(f"{org} is not an active organisation (offboarded or not yet onboarded)")
    return record


def moment_of(text: str | None, option: str) -> datetime | None:
    """``parse_moment`` of an option that may be absent (a bare date: 00:00 in Pakistan)."""
    return None if text is None else parse_moment(text, option)


ValidFrom = Annotated[str | None, typer.Option(
    "--valid-from", help="ISO date or time from which it holds (default: now); an earlier date "
    "lets records of that history verify (they also need a backfill window)")]


def validated(build: Any) -> list[EventData]:
    from pydantic import ValidationError  # noqa: PLC0415 - keep start-up light

    try:
        events: list[EventData] = build()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return events


def public_key_of(public_key: str | None, key_file: Path | None) -> bytes:
    if key_file is not None:
        try:
            return load_key(key_file).public_key
        except EminingError as exc:
            fail(str(exc))
    if public_key is None:
        fail("give --public-key or --key-file")
    try:
        raw = unb64(public_key, what="--public-key")
        Verifier(raw)
    except EminingError as exc:
        fail(str(exc))
    return raw

