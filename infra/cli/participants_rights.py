"""CLI for the platform operator: what an organisation on the registry may sign, and from
when: its authorities, functions and keys, and the backfill windows that load its history.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import deferred, fail, run
from infra.cli.participants_common import (
    ValidFrom,
    emit,
    moment_of,
    now_utc,
    public_key_of,
    registry_org,
    validated,
)
from schemas.enums import Function, Province, TitleType

if TYPE_CHECKING:
    from infra import compose
    from infra.settings import Settings
    from schemas.base import EventData
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
    )
    from schemas.signing import Verifier, b64
else:  # imported when a command first uses them: `emining` starts light
    compose = deferred("infra.compose")
    Settings = deferred("infra.settings", "Settings")
    AuthorityGranted = deferred("schemas.participants", "AuthorityGranted")
    AuthorityWithdrawn = deferred("schemas.participants", "AuthorityWithdrawn")
    BackfillWindowClosed = deferred("schemas.participants", "BackfillWindowClosed")
    BackfillWindowOpened = deferred("schemas.participants", "BackfillWindowOpened")
    FunctionsAssigned = deferred("schemas.participants", "FunctionsAssigned")
    KeyAdded = deferred("schemas.participants", "KeyAdded")
    KeyRevoked = deferred("schemas.participants", "KeyRevoked")
    KeyRotated = deferred("schemas.participants", "KeyRotated")
    MembershipBackdated = deferred("schemas.participants", "MembershipBackdated")
    Verifier = deferred("schemas.signing", "Verifier")
    b64 = deferred("schemas.signing", "b64")

rights_app = typer.Typer()
"""Commands of ``emining participants`` (the group is made in ``infra.cli.root``)."""


@rights_app.command("grant")
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
    since = moment_of(valid_from, "--valid-from") or now_utc()
    events = validated(
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
    emit(events, as_json)


@rights_app.command("backfill")
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
    now = now_utc()
    name = window_id or f"backfill-{now:%Y%m%d%H%M%S}"
    if close:
        if window_id is None:
            fail("--close needs --window-id")
        events = validated(lambda: [BackfillWindowClosed(org_id=org, window_id=name,
                                                          effective_at=now)])
    else:
        if events_from is None or events_until is None or not reason:
            fail("opening a backfill window needs --from, --until and --reason")
        start, end = moment_of(events_from, "--from"), moment_of(events_until, "--until")
        events = validated(lambda: [BackfillWindowOpened(
            org_id=org, window_id=name, events_from=start, events_until=end, open_from=now,
            open_until=now + timedelta(hours=hours), reason=reason)])

    async def check() -> None:
        record = await registry_org(Settings(), org)
        known = {w.window_id for w in record.backfills}
        if close and name not in known:
            fail(f"{org} has no backfill window {name} (it has: "
                 f"{', '.join(sorted(known)) or 'none'})")
        if not close and name in known:
            fail(f"{org} already has a backfill window {name}")

    run(check())
    emit(events, as_json)


@rights_app.command("functions")
def functions(
    org: Annotated[str, typer.Option(help="organisation URN")],
    function: Annotated[list[Function] | None, typer.Option(
        "--function", help="a function it has from now on (repeat); none: clears them")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Set what an organisation does for the platform (customs, investment facilitation, a port,
    a border post...): alerts meant for that function reach it from now on."""
    chosen = tuple(dict.fromkeys(function or ()))
    events = validated(lambda: [FunctionsAssigned(org_id=org, functions=chosen)])
    emit(events, as_json)


@rights_app.command("revoke")
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
    now = now_utc()
    if grant_id is not None:
        events = validated(
            lambda: [AuthorityWithdrawn(org_id=org, grant_id=grant_id, effective_at=now)]
        )
    else:
        events = validated(
            lambda: [KeyRevoked(org_id=org, keyid=keyid, revoked_at=now, reason=reason)]
        )
    emit(events, as_json)


@rights_app.command("add-key")
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
    raw = public_key_of(public_key, key_file)
    since = moment_of(valid_from, "--valid-from")
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
        return validated(lambda: [*backdate, KeyAdded(
            org_id=org, keyid=Verifier(raw).keyid, public_key=b64(raw), valid_from=since)])

    emit(run(check()), as_json)


@rights_app.command("rotate-key")
def rotate_key(
    org: Annotated[str, typer.Option(help="organisation URN")],
    old_keyid: Annotated[str, typer.Option(help="the key being replaced")],
    public_key: Annotated[str | None, typer.Option(help="new base64 public key")] = None,
    key_file: Annotated[Path | None, typer.Option(help="or the new key file")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Replace a key: the old one is valid until now, the new one from now."""
    raw = public_key_of(public_key, key_file)
    events = validated(
        lambda: [
            KeyRotated(
                org_id=org,
                old_keyid=old_keyid,
                new_keyid=Verifier(raw).keyid,
                new_public_key=b64(raw),
                effective_at=now_utc(),
            )
        ]
    )
    emit(events, as_json)

