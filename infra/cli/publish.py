"""CLI for publishing: ``keys new``, ``publish`` and ``import`` (JSON Lines or CSV)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import console, deferred, err_console, fail, print_json, run
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from infra import compose
    from infra.settings import Settings, time_bounds
    from producers.bulk import Row, RowError, build, read_rows, read_text
    from producers.keys import key_file_name, load_key, write_key
    from producers.publisher import Draft, Publisher, PublishResult
    from schemas.registry import Registry
    from schemas.signing import PrivateKey, b64
    from schemas.timing import check_time
else:  # imported when a command first uses them: `emining` starts light
    BarColumn = deferred("rich.progress", "BarColumn")
    MofNCompleteColumn = deferred("rich.progress", "MofNCompleteColumn")
    Progress = deferred("rich.progress", "Progress")
    TextColumn = deferred("rich.progress", "TextColumn")
    TimeElapsedColumn = deferred("rich.progress", "TimeElapsedColumn")
    compose = deferred("infra.compose")
    Settings = deferred("infra.settings", "Settings")
    time_bounds = deferred("infra.settings", "time_bounds")
    Row = deferred("producers.bulk", "Row")
    RowError = deferred("producers.bulk", "RowError")
    build = deferred("producers.bulk", "build")
    read_rows = deferred("producers.bulk", "read_rows")
    read_text = deferred("producers.bulk", "read_text")
    key_file_name = deferred("producers.keys", "key_file_name")
    load_key = deferred("producers.keys", "load_key")
    write_key = deferred("producers.keys", "write_key")
    Draft = deferred("producers.publisher", "Draft")
    Publisher = deferred("producers.publisher", "Publisher")
    PublishResult = deferred("producers.publisher", "PublishResult")
    Registry = deferred("schemas.registry", "Registry")
    PrivateKey = deferred("schemas.signing", "PrivateKey")
    b64 = deferred("schemas.signing", "b64")
    check_time = deferred("schemas.timing", "check_time")

keys_app = typer.Typer(help="Organisation signing keys (Ed25519).", no_args_is_help=True)

IMPORT_BATCH = 500
IMPORT_NAMESPACE = uuid.UUID("5b0c6c1e-2f0a-4c55-9a35-6f3f1f4b8e21")
"""UUIDv5 namespace of the ids of imported rows that carry none."""


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
    """``--data``: inline JSON (``{…}``), ``@file`` (or a file's path), ``@-`` or ``-`` for
    stdin. Malformed JSON is one line naming where it breaks (exit 1, as every expected error)."""
    try:
        if data in ("-", "@-"):
            text = sys.stdin.read()
        elif data.lstrip().startswith(("{", "[")):
            text = data
        else:
            text = read_text(Path(data.removeprefix("@")))
    except EminingError as exc:
        fail(f"--data: {exc}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--data is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
             f"(character {exc.pos})")
    except RecursionError:
        fail("--data is JSON nested too deep to be an event")
    if not isinstance(doc, dict):
        fail("--data must be a JSON object")
    return doc


def _timely(settings: Settings, registry: Registry | None, org: str, draft: Draft) -> None:
    """Refuse, before anything is signed, a time the consumers would refuse as ``time_skew``:
    beyond the allowed skew from now, outside any backfill window the operator opened."""
    if registry is None or draft.time is None:
        return
    check_time(registry, org, draft.time, datetime.now(UTC), time_bounds(settings),
               taken_by="now")


async def _publish(
    settings: Settings, key: PrivateKey, instance: str, drafts: list[Draft]
) -> list[PublishResult]:
    from schemas.timing import TimeSkewError  # noqa: PLC0415 - keep start-up light

    registry = await compose.load_registry(settings)
    for draft in drafts:
        try:
            _timely(settings, registry, key.org, draft)
        except TimeSkewError as exc:
            raise TimeSkewError(f"--time: {exc}; nothing was published") from None
    async with compose.publisher(settings, key, instance, registry) as pub:
        return await pub.publish_many(drafts)


def publish(
    type_name: Annotated[
        str,
        typer.Argument(metavar="TYPE", help="event type, e.g. pk.emining.approval.licence.granted"),
    ],
    as_org: Annotated[str, typer.Option("--as", help="publishing organisation URN")],
    key: Annotated[Path, typer.Option(help="the organisation's key file")],
    subject: Annotated[str, typer.Option(help="what the event is about (title, project, ...)")],
    data: Annotated[str, typer.Option(help="the event data: inline JSON ('{...}'), @FILE "
                                      "(or a file's path), or @- (or -) for stdin")],
    instance: Annotated[str, typer.Option(help="source instance name (one chain each)")] = "cli",
    event_id: Annotated[
        str | None, typer.Option("--id", help="event id (default: new UUID)")
    ] = None,
    time: Annotated[
        str | None,
        typer.Option("--time", help="when it happened, ISO 8601 with offset (default: now); "
                     "history older than the allowed skew needs a backfill window"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Validate, sign and publish one event; prints its id, topic, partition and offset."""
    settings = Settings()
    try:
        private = load_key(key)
        if private.org != as_org:
            fail(f"key file {key} belongs to {private.org}, not {as_org}")
        row = build(type_name, _load_data(data), line=1, subject=subject, event_id=event_id,
                    time=time)
    except EminingError as exc:
        fail(str(exc).removeprefix("line 1, ").removeprefix("line 1: "))
    result = run(_publish(settings, private, instance, [row.draft]))[0]
    if as_json:
        print_json(result.as_dict())
        return
    console.print(
        f"published {result.id} to {result.topic}[{result.partition}]@{result.offset} "
        f"(source {result.source}, seq {result.sequence})",
        highlight=False,
    )


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    published: int
    skipped: int
    """Rows whose event this source had already signed (a re-run): not published again."""


class ImportStoppedError(EminingError):
    """The broker stopped acknowledging mid-import; the message says which rows made it."""


async def _import(
    settings: Settings,
    key: PrivateKey,
    instance: str,
    rows: list[Row],
    bad: list[RowError],
    *,
    skip_invalid: bool,
    progress: Progress,
) -> ImportOutcome:
    """Check every row's authority first, then publish in batches: all or (with skip) the good.

    Each batch is bounded by twice the client timeout (a send waits at most one; closing the
    producer after a failure does not wait for a broker that is gone). Rows whose event id this
    source already signed (acknowledged, or waiting in its outbox) are not signed again; what
    waits in the outbox is looked up on the log when the publisher starts and re-sent only if
    it is not there.
    """
    from producers.bulk import RowError  # noqa: PLC0415 - keep start-up light
    from transport.errors import PublishError  # noqa: PLC0415

    registry = await compose.load_registry(settings)
    bound = 2 * settings.client_timeout_s
    async with compose.publisher(settings, key, instance, registry) as pub:
        allowed: list[Row] = []
        for row in rows:
            try:
                pub.check([row.draft])
                _timely(settings, registry, key.org, row.draft)
            except EminingError as exc:
                error = RowError(row.line, None, str(exc))
                if not skip_invalid:
                    raise RowError(row.line, None, f"{exc}; nothing was published") from exc
                bad.append(error)
                continue
            allowed.append(row)
        fresh = [r for r in allowed if pub.known(r.draft.event_id or "") is None]
        task = progress.add_task("publishing", total=len(fresh))
        for start in range(0, max(len(fresh), 1), IMPORT_BATCH):
            chunk = fresh[start : start + IMPORT_BATCH]
            try:  # acknowledgements are recorded even when the bound cancels the batch
                await asyncio.wait_for(pub.publish_many([r.draft for r in chunk]), bound)
            except (PublishError, TimeoutError) as exc:
                why = str(exc) or f"no acknowledgement within {bound:g} s"
                raise ImportStoppedError(_stopped(why, pub, allowed)) from None
            progress.update(task, advance=len(chunk))
    return ImportOutcome(len(fresh), len(allowed) - len(fresh))


def _stopped(why: str, pub: Publisher, rows: list[Row]) -> str:
    """Which rows the broker acknowledged, which are in doubt, which were not sent: by line,
    from what the source's chain store recorded (acknowledgements as they came)."""
    from producers.chainstore import Acknowledged, Pending  # noqa: PLC0415 - start-up light

    acked: list[int] = []
    doubt: list[int] = []
    unsent: list[int] = []
    for row in rows:
        state = pub.known(row.draft.event_id or "")
        (acked if isinstance(state, Acknowledged) else doubt if isinstance(state, Pending)
         else unsent).append(row.line)
    text = (f"stopped: {why}. Acknowledged: {len(acked)} row(s) (lines {_lines(acked) or 'none'})"
            f"; in doubt: {len(doubt)} row(s) (lines {_lines(doubt) or 'none'}), signed and"
            " sent but not acknowledged, so they may or may not be on the log")
    if unsent:
        text += f"; not sent: {len(unsent)} row(s) (lines {_lines(unsent)})"
    return (text + ". Run the same file again: rows in doubt are looked up on the log and sent"
            " only if not there, acknowledged rows are skipped, so nothing is published twice")


def _lines(numbers: list[int]) -> str:
    """``1-3, 7`` for lines 1, 2, 3 and 7."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)


def _with_id(org: str, row: Row) -> Row:
    """The row with an event id: its own, else one derived from what it says, so a re-run of
    the same file names the same events (two identical rows are then one event)."""
    if row.draft.event_id:
        return row
    canonical = json.dumps([org, row.draft.data.ce_type(), row.draft.data.model_dump(
        mode="json"), None if row.draft.time is None else row.draft.time.isoformat()],
        sort_keys=True, separators=(",", ":"))
    event_id = str(uuid.uuid5(IMPORT_NAMESPACE, canonical))
    return replace(row, draft=replace(row.draft, event_id=event_id))


def _rows(file: Path, type_name: str | None, *, skip_invalid: bool) -> tuple[
        list[Row], list[RowError]]:
    from producers.bulk import RowError  # noqa: PLC0415 - keep start-up light

    good: list[Row] = []
    bad: list[RowError] = []
    for item in read_rows(file, type_name):
        if isinstance(item, RowError):
            if not skip_invalid:
                fail(f"{file}: {item}; nothing was published (use --skip-invalid to publish "
                     "the valid rows)")
            bad.append(item)
        else:
            good.append(item)
    return good, bad


def _write_rejects(path: Path, bad: list[RowError]) -> None:
    try:
        with path.open("w", encoding="utf-8") as handle:
            for row_error in sorted(bad, key=lambda e: e.line):
                handle.write(json.dumps({"line": row_error.line, "field": row_error.field,
                                         "reason": row_error.message}) + "\n")
    except OSError as exc:
        fail(f"cannot write the rejects to {path}: {exc.strerror or exc}; nothing was published")


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
    try:
        good, bad = _rows(file, type_name, skip_invalid=skip_invalid)
    except EminingError as exc:
        fail(str(exc))
    reject_path = rejects or file.with_suffix(".rejects.jsonl")
    if skip_invalid:  # before anything is published: a rejects file we cannot write loses them
        _write_rejects(reject_path, bad)
    # The same row in a re-run of the file is the same event, never a second one.
    good = [_with_id(as_org, row) for row in good]
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, disable=as_json, transient=False) as progress:
        outcome = run(_import(settings, private, instance, good, bad,
                              skip_invalid=skip_invalid, progress=progress))
    if skip_invalid and bad:
        _write_rejects(reject_path, bad)  # authority refusals found while checking
    sent = outcome.published
    summary = {
        "file": str(file),
        "published": sent,
        "already_published": outcome.skipped,
        "rejected": len(bad),
        "rejects_file": str(reject_path) if bad else None,
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"published {sent} events from {file}; {outcome.skipped} were already on the log; "
        f"rejected {len(bad)}" + (f" (reasons in {reject_path})" if bad else ""),
        highlight=False, soft_wrap=True,
    )
