"""CLI for the HTTP service: ``serve``, gateway API keys, and custodial signing keys."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import console, deferred, fail, key_table, print_json
from schemas.errors import EminingError

if TYPE_CHECKING:
    from pydantic import TypeAdapter
    from rich.table import Table

    from infra.logging import configure_logging
    from infra.settings import Settings
    from producers.gateway_auth import ApiKeyStore
    from producers.keys import key_file_name, load_key, write_key
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    configure_logging = deferred("infra.logging", "configure_logging")
    Settings = deferred("infra.settings", "Settings")
    ApiKeyStore = deferred("producers.gateway_auth", "ApiKeyStore")
    key_file_name = deferred("producers.keys", "key_file_name")
    load_key = deferred("producers.keys", "load_key")
    write_key = deferred("producers.keys", "write_key")

apikeys_app = typer.Typer(
    help="Gateway API keys: one per organisation, shown once, stored hashed.", no_args_is_help=True
)
custody_app = typer.Typer(
    help="Keys the gateway signs with for organisations that post unsigned events.",
    no_args_is_help=True,
)

OrgOption = Annotated[
    str, typer.Option("--org", help="organisation URN, e.g. urn:emining:pk:gov:ba-epa")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


@functools.cache
def _org_id() -> TypeAdapter[str]:
    from pydantic import TypeAdapter  # noqa: PLC0415 - keep start-up light

    from schemas.identifiers import OrgId  # noqa: PLC0415

    return TypeAdapter(OrgId)


def _org(value: str) -> str:
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return _org_id().validate_python(value)
    except ValidationError as exc:
        fail(f"--org: {exc.errors()[0]['msg']}")


def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
) -> None:
    """Run the HTTP API (event gateway; OpenAPI at /docs) until interrupted."""
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from transport.eventloop import EventLoopError, chosen_loop  # noqa: PLC0415

    try:
        loop = chosen_loop()
    except EventLoopError as exc:
        fail(str(exc))
    settings = Settings()
    level = settings.log_level or "info"
    configure_logging(level, settings.log_format)  # before uvicorn says anything
    uvicorn.run(
        "infra.compose.app:build_app",
        factory=True,
        host=host,
        port=port,
        # the app logs every event submission (org, event id) and every read (`api_read`)
        access_log=False,
        log_config=None,  # no plain-text handlers of uvicorn's own: its lines go via structlog
        log_level=level,
        loop=loop,  # uvloop unless EMINING_EVENT_LOOP=asyncio
        http="httptools",  # the C HTTP/1.1 parser, not h11's pure Python
    )


@apikeys_app.command("new")
def apikeys_new(
    org: OrgOption,
    replace: Annotated[bool, typer.Option(help="replace the org's current key")] = False,
    as_json: JsonOption = False,
) -> None:
    """Issue the organisation's API key. It is printed once: only its hash is kept."""
    store = ApiKeyStore(Settings().api_keys_path)
    try:
        token = store.issue(_org(org), replace=replace)
    except EminingError as exc:
        fail(str(exc))
    if as_json:
        print_json({"org": org, "api_key": token, "file": str(store.path)})
        return
    console.print(
        f"API key for {org} (shown only now; store it in a secret manager):\n{token}",
        highlight=False,
        soft_wrap=True,
    )


@apikeys_app.command("list")
def apikeys_list(as_json: JsonOption = False) -> None:
    """Organisations holding an API key (fingerprints only: keys cannot be recovered)."""
    try:
        records = ApiKeyStore(Settings().api_keys_path).records()
    except EminingError as exc:
        fail(str(exc))
    if as_json:
        print_json([{"org": r.org, "fingerprint": r.fingerprint, "created_at": r.created_at}
                    for r in records])
        return
    console.print(key_table(["organisation", "fingerprint", "created"],
                            [[r.org, r.fingerprint, r.created_at] for r in records]))


@apikeys_app.command("revoke")
def apikeys_revoke(org: OrgOption) -> None:
    """Revoke the organisation's API key; a running gateway refuses it from its next request."""
    try:
        record = ApiKeyStore(Settings().api_keys_path).revoke(_org(org))
    except EminingError as exc:
        fail(str(exc))
    console.print(f"revoked API key {record.fingerprint} of {org}", highlight=False)


@custody_app.command("add")
def custody_add(
    org: OrgOption,
    key: Annotated[Path, typer.Option("--key", help="the organisation's key file")],
    replace: Annotated[bool, typer.Option(help="replace a custodial key already there")] = False,
) -> None:
    """Copy an organisation's key into the custody directory (0600) for the gateway to sign with.

    Restart the gateway after replacing a key: it keeps the key it loaded.
    """
    try:
        private = load_key(key)
    except EminingError as exc:
        fail(str(exc))
    if private.org != _org(org):
        fail(f"{key} is a key of {private.org}, not of {org}")
    target = Settings().custody_path / key_file_name(org)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.parent.chmod(0o700)
    try:
        write_key(private, target, overwrite=replace)
    except EminingError as exc:
        fail(f"{exc} (pass --replace to swap it)")
    console.print(f"custodial key {private.keyid} of {org} at {target} (mode 0600)",
                  highlight=False)


@custody_app.command("list")
def custody_list(as_json: JsonOption = False) -> None:
    """Organisations the gateway can sign for."""
    directory = Settings().custody_path
    rows = []
    for path in sorted(directory.glob("*.key")) if directory.exists() else []:
        try:
            private = load_key(path)
        except EminingError as exc:
            rows.append({"file": str(path), "org": None, "keyid": None, "error": str(exc)})
            continue
        rows.append({"file": str(path), "org": private.org, "keyid": private.keyid, "error": None})
    if as_json:
        print_json(rows)
        return
    table = Table("organisation", "key id", "file")
    for row in rows:
        table.add_row(row["org"] or f"[red]{row['error']}[/]", row["keyid"] or "-", row["file"])
    console.print(table)

