"""CLI for the platform operator: the registry as a whole, seeded from a file (organisations,
keys, authorities, Kafka credentials and ACLs) and listed as the log defines it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import (
    console,
    deferred,
    err_console,
    fail,
    key_table,
    print_json,
    run,
    write_secret,
)
from infra.cli.participants_common import (
    events_json,
    now_utc,
    print_published,
    publish_registry,
    security_on,
)
from infra.kafka_admin.acl_policy import SECURITY_OFF, AclOutcome

if TYPE_CHECKING:
    import yaml

    from infra import compose
    from infra.kafka_admin.acls import desired_acls, org_principal
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
    from producers.keys import load_key
    from schemas.participants import RegistrySeed
    from schemas.registry import seed_events
    from schemas.signing import b64
else:  # imported when a command first uses them: `emining` starts light
    yaml = deferred("yaml")
    compose = deferred("infra.compose")
    desired_acls = deferred("infra.kafka_admin.acls", "desired_acls")
    org_principal = deferred("infra.kafka_admin.acls", "org_principal")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    load_key = deferred("producers.keys", "load_key")
    RegistrySeed = deferred("schemas.participants", "RegistrySeed")
    seed_events = deferred("schemas.registry", "seed_events")
    b64 = deferred("schemas.signing", "b64")

if TYPE_CHECKING:
    from datetime import datetime

    from infra.kafka_admin.admin import AclChanges
    from schemas.registry import OrgRecord, Registry
    from transport.access import KafkaAccess

registry_app = typer.Typer()
"""Commands of ``emining participants`` (the group is made in ``infra.cli.root``)."""


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
    if not security_on(settings):
        return AclOutcome(None, skipped=SECURITY_OFF)
    from infra.kafka_admin.admin import AclChanges  # noqa: PLC0415 - keep start-up light

    return AclOutcome(changes or AclChanges())


@registry_app.command("seed")
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
    now = now_utc()
    events = seed_events(doc, keys, now)
    settings = Settings()
    if credentials_dir is not None and not security_on(settings):
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
            await publish_registry(settings, events)
        if not security_on(settings) or not fresh.organisations:
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
        print_json({"events": events_json(events), "credentials": written,
                    "already_registered": already, "acls": outcome.to_json()})
        return
    if already:
        err_console.print(f"{len(already)} organisation(s) already on the registry, left as"
                          f" they are: {', '.join(already)}", highlight=False, soft_wrap=True)
    print_published(events)
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


@registry_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The registry as the log defines it now."""
    settings = Settings()
    registry = run(compose.load_registry(settings))
    now = now_utc()
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
