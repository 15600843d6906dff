"""CLI for the platform operator: onboard and offboard organisations, their Kafka credential.

Onboarding also gives the organisation its own Kafka principal (``User:<org URN>``, a
SCRAM-SHA-512 credential printed once) and its ACLs; offboarding deletes both at once.

The ``participants`` room is three command modules, assembled by ``infra.cli.root``: this one
(membership), ``participants_rights`` (authorities, functions, keys, backfill windows) and
``participants_registry`` (seed, list); ``participants_common`` is what they share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import completer, console, deferred, err_console, fail, print_json, run
from infra.cli.common import language as language_of
from infra.cli.participants_common import (
    ValidFrom,
    events_json,
    issue_credential,
    moment_of,
    now_utc,
    print_credential,
    print_published,
    public_key_of,
    publish_registry,
    registry_org,
    security_on,
    validated,
)
from infra.kafka_admin.acl_policy import SECURITY_OFF, AclOutcome
from schemas.enums import Function, Language, Role, Side

if TYPE_CHECKING:
    from infra import compose
    from infra.kafka_admin.acls import org_principal
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
    from schemas.common import Names
    from schemas.participants import KeyAdded, OrganisationOffboarded, OrganisationOnboarded
    from schemas.signing import Verifier, b64
else:  # imported when a command first uses them: `emining` starts light
    compose = deferred("infra.compose")
    org_principal = deferred("infra.kafka_admin.acls", "org_principal")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    Names = deferred("schemas.common", "Names")
    KeyAdded = deferred("schemas.participants", "KeyAdded")
    OrganisationOffboarded = deferred("schemas.participants", "OrganisationOffboarded")
    OrganisationOnboarded = deferred("schemas.participants", "OrganisationOnboarded")
    Verifier = deferred("schemas.signing", "Verifier")
    b64 = deferred("schemas.signing", "b64")

if TYPE_CHECKING:
    from infra.kafka_admin.admin import AclChanges

membership_app = typer.Typer()
"""Commands of ``emining participants`` (the group is made in ``infra.cli.root``)."""


@membership_app.command("init")
def init() -> None:
    """Create the operator key if missing and print the trust anchor to configure elsewhere."""
    settings = Settings()
    key = compose.operator_key(settings, create=True)
    console.print(
        f"operator key {settings.operator_key_path}\nEMINING_TRUST_ANCHOR={b64(key.public_key)}",
        highlight=False,
    )


@membership_app.command("add")
def add(
    org: Annotated[str, typer.Option(help="organisation URN")],
    name_en: Annotated[str, typer.Option(help="name in English")],
    side: Annotated[Side, typer.Option(help="PK or CN")],
    role: Annotated[Role, typer.Option(help="agency, firm, auditor or platform")],
    name_zh: Annotated[str | None, typer.Option(help="name in Chinese")] = None,
    name_ur: Annotated[str | None, typer.Option(help="name in Urdu")] = None,
    language: Annotated[str, typer.Option(
        "--language", autocompletion=completer(Language),
        help="preferred language: en, zh (or zh-Hans) or ur")] = "en",
    uscc: Annotated[str | None, typer.Option(help="a firm's Unified Social Credit Code")] = None,
    public_key: Annotated[str | None, typer.Option(help="base64 Ed25519 public key")] = None,
    key_file: Annotated[Path | None, typer.Option(help="or the org's key file")] = None,
    function: Annotated[list[Function] | None, typer.Option(
        "--function", help="what it does for the platform (repeat): how alerts find it")] = None,
    valid_from: ValidFrom = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Onboard an organisation with its first public key, its Kafka credential and ACLs.

    The credential (username = the org URN, a random password) is printed once; with --json
    as ``credential.username`` / ``credential.password``.
    """
    preferred = language_of("--language", language)
    raw = public_key_of(public_key, key_file)
    now = moment_of(valid_from, "--valid-from") or now_utc()
    if now > now_utc() + timedelta(minutes=5):
        fail(f"--valid-from {valid_from} lies in the future: nothing was published (onboard the "
             "organisation when its membership starts; --valid-from backdates, for history)")
    events = validated(
        lambda: [
            OrganisationOnboarded(
                effective_from=now,
                org_id=org,
                names=Names(en=name_en, zh=name_zh, ur=name_ur),
                side=side,
                role=role,
                language=preferred,
                uscc=uscc,
                functions=tuple(dict.fromkeys(function or ())),
            ),
            KeyAdded(org_id=org, keyid=Verifier(raw).keyid, public_key=b64(raw), valid_from=now),
        ]
    )
    settings = Settings()

    async def onboard() -> tuple[str, AclChanges] | None:
        known = (await compose.load_registry(settings)).orgs.get(org)
        if known is not None:  # readers would skip a second onboarding; the broker must too
            fail(f"{org} is already on the registry (as {known.role.value}"
                 f"{'' if known.active_at(now_utc()) else ', offboarded'}): a new key is"
                 " `participants rotate-key`, a new Kafka credential `participants credential`")
        await publish_registry(settings, events)
        if not security_on(settings):
            return None
        # Rights follow the registry as readers fold it, not the command line.
        record = await registry_org(settings, org)
        return await issue_credential(settings, org, record.role)

    issued = run(onboard())
    password, changes = issued if issued is not None else (None, None)
    outcome = AclOutcome(changes, skipped=None if issued else SECURITY_OFF)
    if as_json:
        print_json({"events": events_json(events),
                    "credential": {"username": org, "password": password} if password else None,
                    "acls": outcome.to_json()})
        return
    print_published(events)
    if password is not None:
        print_credential(org, password)
    outcome.report(err_console)


@membership_app.command("offboard")
def offboard(
    org: Annotated[str, typer.Option(help="organisation URN")],
    reason: Annotated[str, typer.Option(help="why (kept on the log)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """End an organisation's membership now: deletes its Kafka credential and ACLs at once.

    Its past events stay valid (signed while it was a member); from now on the broker refuses
    its requests and consumers refuse what it signs. Run again for an organisation already
    offboarded, it only removes what the broker still holds for it.
    """
    now = now_utc()
    events = validated(
        lambda: [OrganisationOffboarded(org_id=org, effective_at=now, reason=reason)]
    )
    settings = Settings()

    async def go() -> tuple[bool, AclChanges] | None:
        from infra.kafka_admin.admin import apply_acls, delete_credential  # noqa: PLC0415

        record = await registry_org(settings, org, active=False)
        if record.active_at(now):
            await publish_registry(settings, events)
        else:  # offboarded before: only make sure the broker forgot it too
            events.clear()
        if not security_on(settings):
            return None
        kafka = kafka_access(settings)
        # ACLs first: the broker checks them on every request, so open sessions lose their
        # rights at once even if deleting the credential (new logins) fails afterwards.
        changes = await apply_acls(kafka, frozenset(), only={org_principal(org)})
        return await delete_credential(kafka, org), changes

    done = run(go())
    deleted, changes = done if done is not None else (False, None)
    outcome = AclOutcome(changes, skipped=None if done else SECURITY_OFF)
    if as_json:
        print_json({"events": events_json(events), "credential_deleted": deleted,
                    "acls": outcome.to_json()})
        return
    print_published(events)
    if done is not None:
        err_console.print(f"Kafka credential of {org} "
                          + ("deleted" if deleted else "was already absent"), highlight=False)
    outcome.report(err_console)


@membership_app.command("credential")
def credential(
    org: Annotated[str, typer.Option(help="organisation URN")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Issue or rotate an active organisation's Kafka credential (printed once) and its ACLs.

    The old password stops working for new connections at once; a session opened with it
    before lasts until its next re-authentication (the broker asks every hour). If the old
    password leaked, offboarding cuts every session at once.
    """
    settings = Settings()
    if not security_on(settings):
        fail(f"no credential issued: {SECURITY_OFF}")

    async def go() -> tuple[str, AclChanges]:
        record = await registry_org(settings, org)
        return await issue_credential(settings, org, record.role)

    password, changes = run(go())
    if as_json:
        print_json({"credential": {"username": org, "password": password},
                    "acls": AclOutcome(changes).to_json()})
        return
    print_credential(org, password)
    AclOutcome(changes).report(err_console)

