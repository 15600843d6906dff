"""``emining schemas …``: list the event types, export their contract, check it against releases."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import schemas
from infra.cli.common import console, deferred, fail, print_json

if TYPE_CHECKING:
    import yaml
    from rich.markup import escape
    from rich.table import Table

    from schemas.asyncapi import document
    from schemas.catalogue import event_types
    from schemas.doc import summary
    from schemas.versions import Finding, Snapshot, check, json_schema, parse_snapshot, wire_example
else:  # imported when a command first uses them: `emining` starts light
    yaml = deferred("yaml")
    escape = deferred("rich.markup", "escape")
    Table = deferred("rich.table", "Table")
    document = deferred("schemas.asyncapi", "document")
    event_types = deferred("schemas.catalogue", "event_types")
    summary = deferred("schemas.doc", "summary")
    Finding = deferred("schemas.versions", "Finding")
    Snapshot = deferred("schemas.versions", "Snapshot")
    check = deferred("schemas.versions", "check")
    json_schema = deferred("schemas.versions", "json_schema")
    parse_snapshot = deferred("schemas.versions", "parse_snapshot")
    wire_example = deferred("schemas.versions", "wire_example")

SNAPSHOTS = Path(schemas.__file__).parent / "snapshots"
"""Released schemas, committed with the code: ``<ce_type>[.rN].json``."""

schemas_app = typer.Typer(
    help="The event contract: types, JSON Schemas, AsyncAPI, compatibility.", no_args_is_help=True
)


def read_snapshots(directory: Path) -> list[Snapshot]:
    """Every snapshot file in ``directory`` (none when it does not exist yet)."""
    if not directory.is_dir():
        return []
    return [
        parse_snapshot(p.name, p.read_text(encoding="utf-8"))
        for p in sorted(directory.glob("*.json"))
    ]


def write_snapshots(directory: Path, snapshots: list[Snapshot]) -> list[Path]:
    """Add new snapshot files; an existing file is released and is never overwritten."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for snap in snapshots:
        path = directory / snap.filename
        with path.open("x", encoding="utf-8") as out:
            out.write(snap.dumps())
        written.append(path)
    return written


def _dump(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _version() -> str:
    try:
        return package_version("emining-bus")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


@schemas_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="one object per type")] = False,
) -> None:
    """Every event type with its version, topic and subject field."""
    types = event_types()
    if as_json:
        print_json(
            [
                {
                    "type": ce_type,
                    "name": cls.TYPE,
                    "version": cls.VERSION,
                    "topic": cls.TOPIC,
                    "subject_field": cls.SUBJECT_FIELD,
                    "model": cls.__name__,
                    "summary": summary(cls),
                    "dataschema": json_schema(cls)["$id"],
                    "example": wire_example(cls),
                }
                for ce_type, cls in types.items()
            ]
        )
        return
    from schemas.base import TYPE_PREFIX  # noqa: PLC0415 - keep start-up light

    for topic in dict.fromkeys(cls.TOPIC for cls in types.values()):
        table = Table(title=topic, title_justify="left")
        table.add_column(f"type ({TYPE_PREFIX}…)", no_wrap=True)
        table.add_column("subject", no_wrap=True)
        table.add_column("summary")
        for ce_type, cls in types.items():
            if topic == cls.TOPIC:
                table.add_row(ce_type.removeprefix(TYPE_PREFIX), cls.SUBJECT_FIELD, summary(cls))
        console.print(table)
    console.print(f"{len(types)} event types", highlight=False)


@schemas_app.command("export")
def export(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="created if missing")],
) -> None:
    """Write one JSON Schema 2020-12 per type (<ce_type>.json) and the AsyncAPI document."""
    types = event_types()
    directory.mkdir(parents=True, exist_ok=True)
    for ce_type, cls in types.items():
        _dump(directory / f"{ce_type}.json", json_schema(cls))
    spec = document(types, version=_version())
    _dump(directory / "asyncapi.json", spec)
    (directory / "asyncapi.yaml").write_text(
        yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    console.print(
        f"wrote {len(types)} JSON Schemas and asyncapi.json/.yaml to {directory}", highlight=False
    )


def _rows(findings: list[Finding]) -> list[dict[str, str]]:
    return [{"type": f.ce_type, "snapshot": f.snapshot, "message": f.message} for f in findings]


@schemas_app.command("check")
def check_(
    update: Annotated[bool, typer.Option("--update", help="write the new snapshots")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    snapshots: Annotated[Path, typer.Option(help="snapshot directory")] = SNAPSHOTS,
) -> None:
    """Fail on a backward-incompatible change; report (or, with --update, add) new snapshots."""
    try:
        released = read_snapshots(snapshots)
    except (ValueError, OSError) as exc:
        fail(f"cannot read snapshots: {exc}")
    from schemas.catalogue import UPCASTERS  # noqa: PLC0415 - keep start-up light

    report = check(event_types(), released, UPCASTERS)
    written = write_snapshots(snapshots, report.to_write) if update else []
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "failures": _rows(report.failures),
                "notices": _rows(report.notices),
                "written": [str(p) for p in written],
            }
        )
    else:
        for finding in report.failures:
            console.print(
                f"[red]incompatible[/] {escape(str(finding))}", highlight=False, soft_wrap=True
            )
        for finding in report.notices:
            console.print(
                f"[yellow]notice[/] {escape(str(finding))}", highlight=False, soft_wrap=True
            )
        for path in written:
            console.print(f"[green]wrote[/] {escape(str(path))}", highlight=False)
        if report.notices and not update:
            console.print("run `emining schemas check --update` and commit the new snapshots")
        if report.ok:
            console.print(f"{len(released)} snapshots, every type compatible", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
