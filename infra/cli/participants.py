"""CLI for the platform operator: onboard organisations, grant and withdraw authority, keys.

Onboarding also gives the organisation its own Kafka principal (``User:<org URN>``, a
SCRAM-SHA-512 credential printed once) and its ACLs; offboarding deletes both at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import (
    completer,
    console,
    deferred,
    err_console,
    fail,
    key_table,
    parse_moment,
    print_json,
    run,
    write_secret,
)
from infra.cli.common import language as language_of
from infra.kafka_admin.acl_policy import SECURITY_OFF, AclOutcome
from schemas.enums import Function, Language, Province, Role, Side, TitleType
from schemas.errors import EminingError

if TYPE_CHECKING:
    import yaml
    from rich.table import Table

    from infra import compose
    from infra.kafka_admin.acls import desired_acls, org_acls, org_principal
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
    from producers.keys import load_key
    from schemas.base import EventData
    from schemas.common import Names
    from schemas.participants import (
        AuthorityGranted,
        AuthorityWithdrawn,
        BackfillWindowClosed,
        BackfillWindowOpened,
        FunctionsAssigned,
        KeyAdded,
        KeyRevoked,
        KeyRotated,
        MembershipBackdated,
        OrganisationOffboarded,
        OrganisationOnboarded,
        RegistrySeed,
    )
    from schemas.registry import OrgRecord, Registry, seed_events
    from schemas.signing import Verifier, b64, unb64
else:  # imported when a command first uses them: `emining` starts light
    yaml = deferred("yaml")
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    desired_acls = deferred("infra.kafka_admin.acls", "desired_acls")
    org_acls = deferred("infra.kafka_admin.acls", "org_acls")
    org_principal = deferred("infra.kafka_admin.acls", "org_principal")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    load_key = deferred("producers.keys", "load_key")
    EventData = deferred("schemas.base", "EventData")
    Names = deferred("schemas.common", "Names")
    AuthorityGranted = deferred("schemas.participants", "AuthorityGranted")
    AuthorityWithdrawn = deferred("schemas.participants", "AuthorityWithdrawn")
    BackfillWindowClosed = deferred("schemas.participants", "BackfillWindowClosed")
    BackfillWindowOpened = deferred("schemas.participants", "BackfillWindowOpened")
    FunctionsAssigned = deferred("schemas.participants", "FunctionsAssigned")
    KeyAdded = deferred("schemas.participants", "KeyAdded")
    KeyRevoked = deferred("schemas.participants", "KeyRevoked")
    KeyRotated = deferred("schemas.participants", "KeyRotated")
    MembershipBackdated = deferred("schemas.participants", "MembershipBackdated")
    OrganisationOffboarded = deferred("schemas.participants", "OrganisationOffboarded")
    OrganisationOnboarded = deferred("schemas.participants", "OrganisationOnboarded")
    RegistrySeed = deferred("schemas.participants", "RegistrySeed")
    OrgRecord = deferred("schemas.registry", "OrgRecord")
    Registry = deferred("schemas.registry", "Registry")
    seed_events = deferred("schemas.registry", "seed_events")
    Verifier = deferred("schemas.signing", "Verifier")
    b64 = deferred("schemas.signing", "b64")
    unb64 = deferred("schemas.signing", "unb64")

if TYPE_CHECKING:
    from infra.kafka_admin.admin import AclChanges
    from transport.access import KafkaAccess

participants_app = typer.Typer(
    help="The participants registry (operator only).", no_args_is_help=True
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _publish_registry(settings: Settings, events: list[EventData]) -> None:
    key = compose.operator_key(settings)
    async with compose.publisher(settings, key, "registry", registry=None) as pub:
        from producers.publisher import Draft  # noqa: PLC0415 - keep CLI start-up light

        await pub.publish_many([Draft(e) for e in events])


def _events_json(events: list[EventData]) -> list[dict[str, Any]]:
    return [
        {"type": e.ce_type(), "data": e.model_dump(mode="json", exclude_none=True)}
        for e in events
    ]


def _print_published(events: list[EventData]) -> None:
    for event in events:
        console.print(f"published {event.ce_type()} for {event.subject}", highlight=False)


def _emit(events: list[EventData], as_json: bool) -> None:
    run(_publish_registry(Settings(), events))
    if as_json:
        print_json(_events_json(events))
        return
    _print_published(events)


# --------------------------------------------------------------------------- broker principals


class CredentialIncompleteError(EminingError):
    """The registry changed but the organisation's credential or ACLs could not follow."""


def _security_on(settings: Settings) -> bool:
    return settings.kafka_security != "none"


async def _issue(settings: Settings, org: str, role: Role) -> tuple[str, AclChanges]:
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


def _print_credential(org: str, password: str) -> None:
    """The credential, once: shell-ready lines on stdout, the warning on stderr."""
    console.print(f"EMINING_KAFKA_USERNAME={org}\nEMINING_KAFKA_PASSWORD={password}",
                  highlight=False, markup=False, soft_wrap=True)
    err_console.print(f"[yellow]shown once:[/] the Kafka credential of {org}; give it to the"
                      " organisation now (rotate: `emining participants credential`)",
                      highlight=False, soft_wrap=True)


async def _registry_org(settings: Settings, org: str, *, active: bool = True) -> OrgRecord:
    registry = await compose.load_registry(settings)
    record = registry.orgs.get(org)
    if record is None:
        fail(f"{org} is not on the registry")
    if active and not record.active_at(_now()):
        fail(f"{org} is not an active organisation (offboarded or not yet onboarded)")
    return record


def _moment(text: str | None, option: str) -> datetime | None:
    """``parse_moment`` of an option that may be absent (a bare date: 00:00 in Pakistan)."""
    return None if text is None else parse_moment(text, option)


ValidFrom = Annotated[str | None, typer.Option(
    "--valid-from", help="ISO date or time from which it holds (default: now); an earlier date "
    "lets records of that history verify (they also need a backfill window)")]


def _validated(build: Any) -> list[EventData]:
    from pydantic import ValidationError  # noqa: PLC0415 - keep start-up light

    try:
        events: list[EventData] = build()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    return events


def _public_key(public_key: str | None, key_file: Path | None) -> bytes:
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


@participants_app.command("init")
def init() -> None:
    """Create the operator key if missing and print the trust anchor to configure elsewhere."""
    settings = Settings()
    key = compose.operator_key(settings, create=True)
    console.print(
        f"operator key {settings.operator_key_path}\nEMINING_TRUST_ANCHOR={b64(key.public_key)}",
        highlight=False,
    )


@participants_app.command("add")
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
    raw = _public_key(public_key, key_file)
    now = _moment(valid_from, "--valid-from") or _now()
    if now > _now() + timedelta(minutes=5):
        fail(f"--valid-from {valid_from} lies in the future: nothing was published (onboard the "
             "organisation when its membership starts; --valid-from backdates, for history)")
    events = _validated(
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
                 f"{'' if known.active_at(_now()) else ', offboarded'}): a new key is"
                 " `participants rotate-key`, a new Kafka credential `participants credential`")
        await _publish_registry(settings, events)
        if not _security_on(settings):
            return None
        # Rights follow the registry as readers fold it, not the command line.
        record = await _registry_org(settings, org)
        return await _issue(settings, org, record.role)

    issued = run(onboard())
    password, changes = issued if issued is not None else (None, None)
    outcome = AclOutcome(changes, skipped=None if issued else SECURITY_OFF)
    if as_json:
        print_json({"events": _events_json(events),
                    "credential": {"username": org, "password": password} if password else None,
                    "acls": outcome.to_json()})
        return
    _print_published(events)
    if password is not None:
        _print_credential(org, password)
    outcome.report(err_console)


@participants_app.command("offboard")
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
    now = _now()
    events = _validated(
        lambda: [OrganisationOffboarded(org_id=org, effective_at=now, reason=reason)]
    )
    settings = Settings()

    async def go() -> tuple[bool, AclChanges] | None:
        from infra.kafka_admin.admin import apply_acls, delete_credential  # noqa: PLC0415

        record = await _registry_org(settings, org, active=False)
        if record.active_at(now):
            await _publish_registry(settings, events)
        else:  # offboarded before: only make sure the broker forgot it too
            events.clear()
        if not _security_on(settings):
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
        print_json({"events": _events_json(events), "credential_deleted": deleted,
                    "acls": outcome.to_json()})
        return
    _print_published(events)
    if done is not None:
        err_console.print(f"Kafka credential of {org} "
                          + ("deleted" if deleted else "was already absent"), highlight=False)
    outcome.report(err_console)


@participants_app.command("credential")
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
    if not _security_on(settings):
        fail(f"no credential issued: {SECURITY_OFF}")

    async def go() -> tuple[str, AclChanges]:
        record = await _registry_org(settings, org)
        return await _issue(settings, org, record.role)

    password, changes = run(go())
    if as_json:
        print_json({"credential": {"username": org, "password": password},
                    "acls": AclOutcome(changes).to_json()})
        return
    _print_credential(org, password)
    AclOutcome(changes).report(err_console)


@participants_app.command("grant")
def grant(
    org: Annotated[str, typer.Option(help="organisation URN")],
    grant_id: Annotated[str, typer.Option(help="a name for this grant, e.g. ba-licensing")],
    types: Annotated[
        list[str],
        typer.Option(
            "--type", help="event type pattern (repeatable), e.g. 'pk.emining.approval.licence.*'"
        ),
    ],
    province: Annotated[list[Province] | None, typer.Option(help="limit to provinces")] = None,
    title_type: Annotated[list[TitleType] | None, typer.Option(help="limit to title types")] = None,
    own_only: Annotated[bool, typer.Option(help="only subjects naming this org")] = False,
    valid_from: ValidFrom = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Grant an authority: which event types, in which provinces, for which titles."""
    since = _moment(valid_from, "--valid-from") or _now()
    events = _validated(
        lambda: [
            AuthorityGranted(
                org_id=org,
                grant_id=grant_id,
                event_types=tuple(types),
                provinces=tuple(province or ()),
                title_types=tuple(title_type or ()),
                own_only=own_only,
                valid_from=since,
            )
        ]
    )
    _emit(events, as_json)


@participants_app.command("backfill")
def backfill(
    org: Annotated[str, typer.Option(help="organisation URN that will load its history")],
    events_from: Annotated[str | None, typer.Option(
        "--from", help="earliest event time admitted (ISO date or time)")] = None,
    events_until: Annotated[str | None, typer.Option(
        "--until", help="event times before this are admitted (ISO date or time)")] = None,
    reason: Annotated[str, typer.Option(help="why (kept on the log, read by auditors)")] = "",
    hours: Annotated[float, typer.Option(help="how long the window stays open for loading")] = 24,
    window_id: Annotated[str | None, typer.Option(help="a name (default: backfill-<now>)")] = None,
    close: Annotated[bool, typer.Option(help="close --window-id now instead")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Open a backfill window: for the next --hours, the organisation's records dated between
    --from and --until are accepted although they are older than the skew allows.

    Outside a window a record dated more than EMINING_TIME_PAST_SKEW_S (3 days) before the
    broker appends it is refused (time_skew): history is loaded on purpose, visibly, never by
    backdating a decision.
    """
    now = _now()
    name = window_id or f"backfill-{now:%Y%m%d%H%M%S}"
    if close:
        if window_id is None:
            fail("--close needs --window-id")
        events = _validated(lambda: [BackfillWindowClosed(org_id=org, window_id=name,
                                                          effective_at=now)])
    else:
        if events_from is None or events_until is None or not reason:
            fail("opening a backfill window needs --from, --until and --reason")
        start, end = _moment(events_from, "--from"), _moment(events_until, "--until")
        events = _validated(lambda: [BackfillWindowOpened(
            org_id=org, window_id=name, events_from=start, events_until=end, open_from=now,
            open_until=now + timedelta(hours=hours), reason=reason)])

    async def check() -> None:
        record = await _registry_org(Settings(), org)
        known = {w.window_id for w in record.backfills}
        if close and name not in known:
            fail(f"{org} has no backfill window {name} (it has: "
                 f"{', '.join(sorted(known)) or 'none'})")
        if not close and name in known:
            fail(f"{org} already has a backfill window {name}")

    run(check())
    _emit(events, as_json)


@participants_app.command("functions")
def functions(
    org: Annotated[str, typer.Option(help="organisation URN")],
    function: Annotated[list[Function] | None, typer.Option(
        "--function", help="a function it has from now on (repeat); none: clears them")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Set what an organisation does for the platform (customs, investment facilitation, a port,
    a border post...): alerts meant for that function reach it from now on."""
    chosen = tuple(dict.fromkeys(function or ()))
    events = _validated(lambda: [FunctionsAssigned(org_id=org, functions=chosen)])
    _emit(events, as_json)


@participants_app.command("revoke")
def revoke(
    org: Annotated[str, typer.Option(help="organisation URN")],
    grant_id: Annotated[str | None, typer.Option(help="withdraw this authority")] = None,
    keyid: Annotated[str | None, typer.Option(help="revoke this key")] = None,
    reason: Annotated[str, typer.Option(help="why (kept on the log)")] = "revoked by operator",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Withdraw an authority (--grant-id) or revoke a key (--keyid), effective now."""
    if (grant_id is None) == (keyid is None):
        fail("give exactly one of --grant-id or --keyid")
    now = _now()
    if grant_id is not None:
        events = _validated(
            lambda: [AuthorityWithdrawn(org_id=org, grant_id=grant_id, effective_at=now)]
        )
    else:
        events = _validated(
            lambda: [KeyRevoked(org_id=org, keyid=keyid, revoked_at=now, reason=reason)]
        )
    _emit(events, as_json)


@participants_app.command("add-key")
def add_key(
    org: Annotated[str, typer.Option(help="organisation URN (already on the registry)")],
    valid_from: Annotated[str, typer.Option(
        "--valid-from", help="ISO date or time from which it holds: for a key that signs the "
        "organisation's past records, the date of the oldest")],
    public_key: Annotated[str | None, typer.Option(help="base64 public key")] = None,
    key_file: Annotated[Path | None, typer.Option(help="or the key file")] = None,
    reason: Annotated[str, typer.Option(help="why (kept on the log, when it backdates the "
                                        "membership)")] = "loading the records kept before the bus",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a key to an organisation on the registry, valid from a date: a key to load its
    history with. Its current key holds only from its onboarding; records dated before need a
    key valid then, membership then (an earlier date backdates it, visibly:
    ``pk.emining.participant.membership.backdated``), authority then (``grant --valid-from``)
    and a backfill window."""
    raw = _public_key(public_key, key_file)
    since = _moment(valid_from, "--valid-from")
    assert since is not None
    settings = Settings()

    async def check() -> list[EventData]:
        registry = await compose.load_registry(settings)
        known = registry.orgs.get(org)
        if known is None:
            fail(f"{org} is not on the registry: onboard it with `participants add`")
        owner = next((o for o in registry.orgs.values() if Verifier(raw).keyid in o.keys), None)
        if owner is not None:
            fail(f"key {Verifier(raw).keyid} is already registered to {owner.id}: make a new "
                 "key for the history (`emining keys new --org ORG --out DIR`, another DIR)")
        backdate = ([MembershipBackdated(org_id=org, effective_from=since, reason=reason)]
                    if since < known.onboarded_at else [])
        return _validated(lambda: [*backdate, KeyAdded(
            org_id=org, keyid=Verifier(raw).keyid, public_key=b64(raw), valid_from=since)])

    _emit(run(check()), as_json)


@participants_app.command("rotate-key")
def rotate_key(
    org: Annotated[str, typer.Option(help="organisation URN")],
    old_keyid: Annotated[str, typer.Option(help="the key being replaced")],
    public_key: Annotated[str | None, typer.Option(help="new base64 public key")] = None,
    key_file: Annotated[Path | None, typer.Option(help="or the new key file")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replace a key: the old one is valid until now, the new one from now."""
    raw = _public_key(public_key, key_file)
    events = _validated(
        lambda: [
            KeyRotated(
                org_id=org,
                old_keyid=old_keyid,
                new_keyid=Verifier(raw).keyid,
                new_public_key=b64(raw),
                effective_at=_now(),
            )
        ]
    )
    _emit(events, as_json)


def password_file_name(org: str) -> str:
    """``cn-ent-acme.password``: named like the org's key file (``producers.keys``)."""
    from producers.keys import key_file_name  # noqa: PLC0415

    return key_file_name(org).removesuffix(".key") + ".password"


async def _write_credentials(
    kafka: KafkaAccess, orgs: list[str], folder: Path
) -> list[dict[str, str]]:
    """A new credential per organisation, each in its own 0600 file; nothing printed."""
    from infra.kafka_admin.admin import upsert_credential  # noqa: PLC0415 - keep start-up light

    written = []
    for org in orgs:
        target = folder / password_file_name(org)
        write_secret(target, await upsert_credential(kafka, org) + "\n")
        written.append({"org": org, "username": org, "file": str(target)})
    return written


def _outcome(settings: Settings, changes: AclChanges | None) -> AclOutcome:
    if not _security_on(settings):
        return AclOutcome(None, skipped=SECURITY_OFF)
    from infra.kafka_admin.admin import AclChanges  # noqa: PLC0415 - keep start-up light

    return AclOutcome(changes or AclChanges())


@participants_app.command("seed")
def seed(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="registry YAML")],
    keys_dir: Annotated[
        Path,
        typer.Option(
            help="directory of the organisations' key files "
            "(<org-slug>.key); orgs without one get no key"
        ),
    ],
    credentials_dir: Annotated[
        Path | None,
        typer.Option(help="issue each organisation a Kafka credential, written to "
                     "<dir>/<org-slug>.password (mode 0600); never printed"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Onboard every organisation of a seed file, with its key, authorities and ACLs."""
    from pydantic import ValidationError  # noqa: PLC0415

    from producers.keys import key_file_name  # noqa: PLC0415

    try:
        doc = RegistrySeed.model_validate(yaml.safe_load(file.read_text(encoding="utf-8")))
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"{file}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    keys = {org.id: load_key(keys_dir / key_file_name(org.id)).public_key
            for org in doc.organisations if (keys_dir / key_file_name(org.id)).exists()}
    now = _now()
    events = seed_events(doc, keys, now)
    settings = Settings()
    if credentials_dir is not None and not _security_on(settings):
        fail(f"--credentials-dir: {SECURITY_OFF}")
    written: list[dict[str, str]] = []
    already: list[str] = []

    async def go() -> AclChanges | None:
        from infra.kafka_admin.admin import apply_acls  # noqa: PLC0415 - keep start-up light

        # Organisations already on the log are left alone: readers would skip their second
        # onboarding, so no new credential or rights either.
        before = await compose.load_registry(settings)
        already.extend(o.id for o in doc.organisations if o.id in before.orgs)
        fresh = doc.model_copy(update={"organisations": tuple(
            o for o in doc.organisations if o.id not in before.orgs)})
        events[:] = seed_events(fresh, keys, now)
        if events:
            await _publish_registry(settings, events)
        if not _security_on(settings) or not fresh.organisations:
            return None
        kafka = kafka_access(settings)
        registry = await compose.load_registry(settings)  # rights as readers fold the log
        seeded = {o.id for o in fresh.organisations}
        active = sorted(o for o in seeded if o in registry.orgs and registry.orgs[o].active_at(now))
        if credentials_dir is not None:
            written.extend(await _write_credentials(kafka, active, credentials_dir))
        return await apply_acls(kafka, desired_acls(registry, now),
                                only={org_principal(o) for o in seeded})

    changes = run(go())
    outcome = _outcome(settings, changes)
    if as_json:
        print_json({"events": _events_json(events), "credentials": written,
                    "already_registered": already, "acls": outcome.to_json()})
        return
    if already:
        err_console.print(f"{len(already)} organisation(s) already on the registry, left as"
                          f" they are: {', '.join(already)}", highlight=False, soft_wrap=True)
    _print_published(events)
    if written:
        err_console.print(f"{len(written)} Kafka credential(s) written to {credentials_dir}"
                          " (mode 0600, one <org-slug>.password each)", highlight=False)
    outcome.report(err_console)


def _org_row(org: OrgRecord, at: datetime) -> dict[str, Any]:
    keys = [
        {"keyid": k.keyid, "public_key": b64(k.public_key), "valid_from": k.valid_from,
         "valid_until": k.valid_until, "revoked": k.revoked}
        for k in org.keys.values()
    ]
    grants = [
        {"grant_id": g.grant_id, "event_types": list(g.event_types),
         "provinces": sorted(g.provinces), "title_types": sorted(g.title_types),
         "own_only": g.own_only, "valid_from": g.valid_from, "valid_until": g.valid_until}
        for g in org.grants
    ]
    return {"id": org.id, "names": org.names, "side": org.side.value, "role": org.role.value,
            "language": org.language.value, "uscc": org.uscc, "active": org.active_at(at),
            "functions": sorted(f.value for f in org.functions), "keys": keys,
            "authorities": grants,
            "backfill_windows": [
                {"window_id": w.window_id, "events_from": w.events_from,
                 "events_until": w.events_until, "open_from": w.open_from,
                 "open_until": w.open_until, "reason": w.reason} for w in org.backfills]}


def _registry_rows(registry: Registry, at: datetime) -> list[dict[str, Any]]:
    return [_org_row(org, at) for org in sorted(registry.orgs.values(), key=lambda o: o.id)]


@participants_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The registry as the log defines it now."""
    settings = Settings()
    registry = run(compose.load_registry(settings))
    now = _now()
    rows = _registry_rows(registry, now)
    if as_json:
        print_json(rows)
        return
    shown = []
    for org, row in zip(sorted(registry.orgs.values(), key=lambda o: o.id), rows, strict=True):
        keys = ", ".join(k.keyid for k in org.keys.values() if k.valid_at(now)) or "-"
        grants = "\n".join(g.describe() for g in org.grants if g.valid_at(now)) or "-"
        shown.append([row["id"], row["side"], row["role"], ", ".join(row["functions"]) or "-",
                      org.names.get("en", ""), keys, grants])
    console.print(key_table(["organisation", "side", "role", "functions", "name", "valid keys",
                             "authorities"], shown))
