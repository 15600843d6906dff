"""``emining audit …``: what an auditor runs, from the log alone: verify, replay, report."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.audit_output import print_replay, print_verify
from infra.cli.common import (
    completer,
    console,
    deferred,
    err_console,
    fail,
    parse_moment,
    print_json,
    run,
)
from infra.cli.common import language as language_of
from schemas.enums import Language
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from infra import compose
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings, time_bounds
else:  # imported when a command first uses them: `emining` starts light
    BarColumn = deferred("rich.progress", "BarColumn")
    MofNCompleteColumn = deferred("rich.progress", "MofNCompleteColumn")
    Progress = deferred("rich.progress", "Progress")
    TaskProgressColumn = deferred("rich.progress", "TaskProgressColumn")
    TextColumn = deferred("rich.progress", "TextColumn")
    TimeRemainingColumn = deferred("rich.progress", "TimeRemainingColumn")
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    time_bounds = deferred("infra.settings", "time_bounds")

if TYPE_CHECKING:
    from consumers.audit import AuditTopics
    from consumers.audit.report import Report
    from transport.access import KafkaAccess

audit_app = typer.Typer(
    help="Auditors: verify every signature and chain, replay history, write a report.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON on stdout")]
TopicOption = Annotated[
    list[str] | None,
    typer.Option("--topic", metavar="ROLE=NAME",
                 help="read another topic in a role (projects, approvals, shipments, "
                      "participants, checkpoints, cosignatures, refusals), e.g. --topic "
                      "projects=staging.projects.v1"),
]
ROLES = ("projects", "approvals", "shipments", "participants", "checkpoints", "cosignatures",
         "refusals")
WorkersOption = Annotated[
    int | None, typer.Option(help="worker processes (default: every core; 0: this process)")
]


def audit_topics(overrides: list[str] | None) -> AuditTopics:
    """The catalogue's topics, with any ``ROLE=NAME`` overrides."""
    from dataclasses import replace  # noqa: PLC0415

    from consumers.audit import AuditTopics  # noqa: PLC0415 - keep CLI start-up light

    topics = AuditTopics()
    for item in overrides or ():
        role, _, name = item.partition("=")
        if role not in ROLES or not name:
            fail(f"--topic {item!r}: give ROLE=NAME with ROLE one of {', '.join(ROLES)}")
        topics = replace(topics, **{role: name})
    return topics


def worker_logging(settings: Settings) -> Callable[[], object]:
    """The replay's verify worker logs as this command does (level, format, to stderr)."""
    from infra.logging import configure_logging  # noqa: PLC0415 - loaded with the command

    return partial(configure_logging, settings.log_level or "warning", settings.log_format)


def connection(settings: Settings) -> tuple[KafkaAccess, list[bytes]]:
    """The broker and our credential, and which keys sign the registry, or one clear error."""
    try:
        return kafka_access(settings), compose.trust_anchor(settings)
    except EminingError as exc:
        fail(str(exc))


@contextmanager
def progress_bar(what: str, *, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr (stdout stays for results); a no-op when disabled."""
    if not enabled:
        yield lambda _done, _total: None
        return
    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None, rate="")

        def update(done: int, total: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:,.0f} records/s" if elapsed > 0 else ""
            bar.update(task, completed=done, total=total, rate=rate)

        yield update


@audit_app.command("verify")
def verify(
    as_json: JsonOption = False,
    workers: WorkersOption = None,
    topic: TopicOption = None,
) -> None:
    """Check every record of the shared topics: signature, key validity at the event's time,
    authority, sequence gaps, duplicates, replays, reorders and hash chains; and every log
    against the platform's checkpoints (each record's inclusion, the tail, consistency, forks)
    and the witnesses' cosignatures of them.

    Exits 1 when anything is wrong (warnings alone, such as an identical re-send or a checkpoint
    one side did not cosign, exit 0).
    """
    from consumers.audit import verify_log  # noqa: PLC0415

    topics = audit_topics(topic)
    settings = Settings()
    kafka, anchors = connection(settings)
    with progress_bar("verifying", enabled=not as_json) as on_progress:
        report = run(verify_log(kafka, anchors, topics=topics, workers=workers,
                                timeout_s=settings.client_timeout_s, on_progress=on_progress,
                                time_bounds=time_bounds(settings)))
    if as_json:
        print_json(report.to_json())
    else:
        print_verify(report)
    raise typer.Exit(0 if report.ok else 1)


def scratch_store(store: str | None, folder: str) -> str:
    """The replay's store: ``store`` (must not exist yet) or a file in a temporary folder."""
    if store is None:
        return f"sqlite:///{Path(folder) / 'replay.sqlite'}"
    if "://" not in store:
        path = Path(store)
        if path.exists():
            fail(f"{path} exists: a replay needs a new, empty store")
        return f"sqlite:///{path.resolve()}"
    return store


@audit_app.command("replay")
def replay(
    as_of: Annotated[str | None, typer.Option(
        help="the platform as it stood then: records appended by then, dated by then")] = None,
    subject: Annotated[str | None, typer.Option(
        help="one project, title/file/LPCO number or shipment id only")] = None,
    include_late: Annotated[bool, typer.Option(
        help="with --as-of: also count events appended later but dated before it")] = False,
    store: Annotated[str | None, typer.Option(
        help="keep the rebuilt views here (a new SQLite path, or an empty database URL)")] = None,
    as_json: JsonOption = False,
    topic: TopicOption = None,
    workers: Annotated[int | None, typer.Option(
        help="0: verify in this process; else in one worker process while this one applies "
             "(default: from 5,000 records on, given a second core)")] = None,
) -> None:
    """Rebuild the views from offset zero into a scratch store and print the state and digest.

    The same log always gives the same digest, equal to the live views' digest at the same
    offsets (``emining views digest``). With --subject, a licence, IEE/EIA or LPCO shows its
    standing on the --as-of day (else today) in Pakistan: effective status (deemed approval by
    law), days pending, service standard breached.
    """
    from consumers.audit.replay import replay as rebuild  # noqa: PLC0415
    from consumers.audit.state import subject_state, summary  # noqa: PLC0415
    from consumers.store import ViewStore  # noqa: PLC0415
    from consumers.views.standing import local_day, today_in_pakistan  # noqa: PLC0415

    topics = audit_topics(topic)
    moment = parse_moment(as_of, "--as-of") if as_of else None
    day = local_day(moment) if moment else today_in_pakistan()  # a file's standing on that day
    settings = Settings()
    kafka, anchors = connection(settings)

    async def work(url: str) -> tuple[Any, dict[str, Any]]:
        result = await rebuild(kafka, anchors, url, topics=topics, as_of=moment,
                               subject=subject, include_late=include_late,
                               timeout_s=settings.client_timeout_s, on_progress=on_progress,
                               time_bounds=time_bounds(settings), workers=workers,
                               worker_setup=worker_logging(settings))
        views = ViewStore(url)
        try:
            await views.open()
            state = await (subject_state(views, subject, day) if subject
                           else summary(views, day))
        finally:
            await views.close()
        return result, state

    with tempfile.TemporaryDirectory(prefix="emining-replay-") as folder, \
            progress_bar("replaying", enabled=not as_json) as on_progress:
        result, state = run(work(scratch_store(store, folder)))
    if as_json:
        print_json({**result.to_json(), "state": state})
        return
    print_replay(result, state)


def parse_standards(items: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items or ():
        category, _, days = item.partition("=")
        if not category or not days.isdigit():
            fail(f"--standard {item!r}: give CATEGORY=DAYS, e.g. EL=60 or EIA=120")
        out[category] = int(days)
    return out


def reader_language(built: Report, principal: str | None) -> str:
    """The preferred language the registry holds for the organisation signed in as (the Kafka
    principal), else English."""
    registry = built.verify.registry if built.verify is not None else None
    org = registry.orgs.get(principal) if registry is not None and principal else None
    return org.language.value if org is not None else "en"


@audit_app.command("report")
def report(
    out: Annotated[Path | None, typer.Option(help="write the HTML page here")] = None,
    csv_dir: Annotated[Path | None, typer.Option(
        help="write one CSV per table here (licence_register.csv: EITI 2.3)")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="print all the data as one JSON document on stdout (to keep it: "
        "--json > report.json)")] = False,
    as_of: Annotated[str | None, typer.Option(help="report on the platform as it stood then")
                     ] = None,
    include_late: Annotated[bool, typer.Option(
        "--include-late", help="with --as-of: also count events appended later but dated "
        "before it (history loaded afterwards, e.g. a backfill)")] = False,
    standard: Annotated[list[str] | None, typer.Option(
        metavar="CATEGORY=DAYS", help="override a decision standard, e.g. --standard EL=60")
    ] = None,
    projects: Annotated[int, typer.Option(help="project timelines shown in the page")] = 50,
    workers: WorkersOption = None,
    topic: TopicOption = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", metavar="en|zh-Hans|ur", autocompletion=completer(Language),
        help="the page's language; default: the preferred language the registry holds for "
        "the organisation you sign in as, else en")] = None,
) -> None:
    """Write one self-contained HTML page (--out): lead times per agency and title type against
    the standards, deadline breaches, project timelines, shipments by mineral, HS heading and
    exit point, the licence register and the verify findings, with charts. --csv-dir writes
    the tables as CSV; --json prints everything as JSON on stdout (what was written is then
    said on stderr). At least one of the three."""
    from consumers.audit.exports import to_json, write_csv  # noqa: PLC0415
    from consumers.audit.html import language, render  # noqa: PLC0415
    from consumers.audit.report import audit_report  # noqa: PLC0415
    from schemas.standards import Standards  # noqa: PLC0415

    if out is None and csv_dir is None and not as_json:
        fail("say what to write: --out PAGE.html, --csv-dir DIR and/or --json (on stdout)")
    asked = None if lang is None else language(language_of("--lang", lang).value)
    topics = audit_topics(topic)
    standards = Standards().with_overrides(parse_standards(standard))
    moment = parse_moment(as_of, "--as-of") if as_of else None
    settings = Settings()
    kafka, anchors = connection(settings)
    with progress_bar("auditing") as on_progress:
        built, _ = run(audit_report(
            kafka, anchors, topics=topics, as_of=moment, include_late=include_late,
            standards=standards, projects_limit=projects, workers=workers,
            timeout_s=settings.client_timeout_s,
            time_bounds=time_bounds(settings), worker_setup=worker_logging(settings),
            on_progress=lambda _phase, done, total: on_progress(done, total)))
    written: list[Path] = []
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(built, asked or reader_language(built, settings.kafka_username)),
                       encoding="utf-8")
        written.append(out)
    if csv_dir is not None:
        written += write_csv(built, csv_dir)
    if as_json:
        print_json(to_json(built))
    said = err_console if as_json else console  # stdout stays the one JSON document
    for path in written:
        said.print(f"wrote {path}", highlight=False, soft_wrap=True)
    verdict = "OK" if built.verify is None or built.verify.ok else (
        f"{len(built.verify.violations)} violation(s)")
    said.print(f"{len(built.lead_times)} lead-time rows, {len(built.breaches)} deadline "
                  f"breaches, {len(built.register)} licences; verify: {verdict}",
                  highlight=False, soft_wrap=True)


@audit_app.command("prove")
def prove(
    event_id: Annotated[str, typer.Argument(help="the event's id (its ce_id header)")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="print the proof JSON on stdout (the default without --out)")] = False,
    out: Annotated[Path | None, typer.Option(help="write the proof JSON to this file")] = None,
    topic: TopicOption = None,
) -> None:
    """Print an inclusion proof of one event against the newest checkpoint that covers it and
    that witnesses of both sides cosigned (else the newest, saying which side is missing).

    Check it anywhere, without our code: python docs/verify_proof.py proof.json
    (see docs/checkpoints-proof.md).
    """
    from consumers.audit.proofs import prove as make_proof  # noqa: PLC0415

    topics = audit_topics(topic)
    settings = Settings()
    kafka, anchors = connection(settings)
    proof = run(make_proof(kafka, event_id, anchors, topics=topics,
                           timeout_s=settings.client_timeout_s))
    if out is not None:
        import json  # noqa: PLC0415

        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(proof, indent=2) + "\n", encoding="utf-8")
    shown = as_json or out is None  # the proof on stdout, what it is on stderr
    if shown:
        print_json(proof)
    said = err_console if shown else console
    leaf, cp = proof["leaf"], proof["checkpoint"]
    said.print(f"event {event_id}: {leaf['topic']}[{leaf['partition']}] offset {leaf['offset']}"
               f" is leaf {proof['leaf_index']} of the checkpoint of {cp['time']} (size "
               f"{cp['size']:,}, {len(proof['inclusion_path'])} hashes in the path)",
               highlight=False, soft_wrap=True)
    for cosig in proof["cosignatures"]:
        said.print(f"cosigned by {cosig['name']} ({cosig['witness']}, {cosig['side']} side) at "
                   f"{cosig['time']}", highlight=False, soft_wrap=True)
    if proof["missing_sides"]:
        said.print(f"[yellow]no cosignature from a {' or '.join(proof['missing_sides'])}-side "
                   "witness on any checkpoint covering it[/]", highlight=False, soft_wrap=True)
    if out is not None:
        said.print(f"wrote {out}: check it with python docs/verify_proof.py {out}",
                   highlight=False, soft_wrap=True)


@audit_app.command("reads")
def reads(
    org: Annotated[str | None, typer.Option(help="only reads by this organisation")] = None,
    after: Annotated[int, typer.Option(help="only entries after this sequence number")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Who read restricted data (personal data, commercial terms) over the API, and when: the
    read log kept beside the views (also ``GET /v1/audit/reads``)."""
    from dataclasses import asdict  # noqa: PLC0415

    from consumers.readlog import ReadLog  # noqa: PLC0415
    from consumers.store import ViewStore  # noqa: PLC0415

    async def work() -> list[Any]:
        store = ViewStore(Settings().views_store_url)
        try:
            await store.open(check_version=False)
            log = ReadLog(store)
            await log.create_table()
            return await log.entries(org=org, after=after, limit=limit)
        finally:
            await store.close()

    entries = run(work())
    if as_json:
        print_json([asdict(e) for e in entries])
        return
    table = Table("#", "when", "who", "organisation", "route", "subjects", "fields")
    for e in entries:
        table.add_row(str(e.seq), e.at, f"{e.principal} ({e.via})", e.org, e.route,
                      ", ".join(e.subjects[:3]) + (" …" if len(e.subjects) > 3 else ""),  # noqa: PLR2004
                      ", ".join(e.fields))
    console.print(table)
    console.print(f"{len(entries)} read(s) of restricted data", highlight=False)
