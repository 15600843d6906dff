"""CLI for publishing: ``keys new``, ``publish`` and ``import`` (JSON Lines or CSV)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra import wiring
from infra.cli_common import console, fail, print_json, run
from infra.settings import Settings
from producers.bulk import Row, RowError, build, read_rows
from producers.keys import key_file_name, load_key, write_key
from producers.publisher import Draft, PublishResult
from schemas.errors import EminingError
from schemas.signing import PrivateKey, b64

keys_app = typer.Typer(help="Organisation signing keys (Ed25519).", no_args_is_help=True)

IMPORT_BATCH = 500


@keys_app.command("new")
def keys_new(
    org: Annotated[str, typer.Option(help="organisation URN, e.g. urn:emining:pk:gov:ba-mmdd")],
    out: Annotated[Path, typer.Option(help="directory for the private key file (mode 0600)")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Make a key pair: the private key goes to a file, the public key and key id are printed."""
    key = PrivateKey.generate(org)
    try:
        path = write_key(key, out / key_file_name(org))
    except EminingError as exc:
        fail(str(exc))
    info = {"org": org, "keyid": key.keyid, "public_key": b64(key.public_key), "file": str(path)}
    if as_json:
        print_json(info)
        return
    console.print(
        f"private key  {path} (mode 0600)\nkey id       {key.keyid}\n"
        f"public key   {info['public_key']}",
        highlight=False,
    )


def _load_data(data: str) -> dict[str, object]:
    text = sys.stdin.read() if data == "-" else Path(data).read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--data is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if not isinstance(doc, dict):
        fail("--data must be a JSON object")
    return doc


async def _publish(
    settings: Settings, key: PrivateKey, instance: str, drafts: list[Draft]
) -> list[PublishResult]:
    registry = await wiring.load_registry(settings)
    async with wiring.publisher(settings, key, instance, registry) as pub:
        return await pub.publish_many(drafts)


def publish(
    type_name: Annotated[
        str,
        typer.Argument(metavar="TYPE", help="event type, e.g. pk.emining.approval.licence.granted"),
    ],
    as_org: Annotated[str, typer.Option("--as", help="publishing organisation URN")],
    key: Annotated[Path, typer.Option(help="the organisation's key file")],
    subject: Annotated[str, typer.Option(help="what the event is about (title, project, ...)")],
    data: Annotated[str, typer.Option(help="JSON file with the event data, or - for stdin")],
    instance: Annotated[str, typer.Option(help="source instance name (one chain each)")] = "cli",
    event_id: Annotated[
        str | None, typer.Option("--id", help="event id (default: new UUID)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Validate, sign and publish one event; prints its id, topic, partition and offset."""
    settings = Settings()
    try:
        private = load_key(key)
        if private.org != as_org:
            fail(f"key file {key} belongs to {private.org}, not {as_org}")
        row = build(type_name, _load_data(data), line=1, subject=subject, event_id=event_id)
    except EminingError as exc:
        fail(str(exc).removeprefix("line 1, "))
    result = run(_publish(settings, private, instance, [row.draft]))[0]
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"published {result.id} to {result.topic}[{result.partition}]@{result.offset} "
        f"(source {result.source}, seq {result.sequence})",
        highlight=False,
    )


async def _import(
    settings: Settings,
    key: PrivateKey,
    instance: str,
    rows: list[Row],
    bad: list[RowError],
    *,
    skip_invalid: bool,
    progress: Progress,
) -> int:
    """Check every row's authority first, then publish in batches: all or (with skip) the good."""
    registry = await wiring.load_registry(settings)
    async with wiring.publisher(settings, key, instance, registry) as pub:
        allowed: list[Row] = []
        for row in rows:
            try:
                pub.check([row.draft])
            except EminingError as exc:
                error = RowError(row.line, None, str(exc))
                if not skip_invalid:
                    raise RowError(row.line, None, f"{exc}; nothing was published") from exc
                bad.append(error)
                continue
            allowed.append(row)
        task = progress.add_task("publishing", total=len(allowed))
        for start in range(0, len(allowed), IMPORT_BATCH):
            chunk = allowed[start : start + IMPORT_BATCH]
            await pub.publish_many([r.draft for r in chunk])
            progress.update(task, advance=len(chunk))
    return len(allowed)


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help=".jsonl or .csv")],
    as_org: Annotated[str, typer.Option("--as", help="publishing organisation URN")],
    key: Annotated[Path, typer.Option(help="the organisation's key file")],
    type_name: Annotated[
        str | None,
        typer.Option("--type", help="event type of every CSV row (else a `type` column)"),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option(help="publish the valid rows, write the rest with reasons to --rejects")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(help="where --skip-invalid writes rejects (default FILE.rejects.jsonl)"),
    ] = None,
    instance: Annotated[str, typer.Option(help="source instance name")] = "import",
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
) -> None:
    """Publish every row of a JSON Lines or CSV file; stops at the first invalid row."""
    settings = Settings()
    try:
        private = load_key(key)
    except EminingError as exc:
        fail(str(exc))
    if private.org != as_org:
        fail(f"key file {key} belongs to {private.org}, not {as_org}")
    good: list[Row] = []
    bad: list[RowError] = []
    for item in read_rows(file, type_name):
        if isinstance(item, RowError):
            if not skip_invalid:
                fail(
                    f"{file}: {item}; nothing was published (use --skip-invalid to publish "
                    "the valid rows)"
                )
            bad.append(item)
        else:
            good.append(item)
    reject_path = rejects or file.with_suffix(".rejects.jsonl")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=as_json, transient=False) as progress:
        sent = run(
            _import(
                settings, private, instance, good, bad, skip_invalid=skip_invalid, progress=progress
            )
        )
    if bad:
        with reject_path.open("w", encoding="utf-8") as handle:
            for row_error in sorted(bad, key=lambda e: e.line):
                handle.write(
                    json.dumps(
                        {
                            "line": row_error.line,
                            "field": row_error.field,
                            "reason": row_error.message,
                        }
                    )
                    + "\n"
                )
    summary = {
        "file": str(file),
        "published": sent,
        "rejected": len(bad),
        "rejects_file": str(reject_path) if bad else None,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"published {sent} events from {file}; rejected {len(bad)}"
        + (f" (reasons in {reject_path})" if bad else ""),
        highlight=False,
    )
