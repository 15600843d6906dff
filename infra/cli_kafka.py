"""``emining kafka …`` and ``emining topics …``: the broker lifecycle and the topic catalogue."""

from __future__ import annotations

import asyncio
import functools
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer
from rich.table import Table

from schemas.errors import EminingError
from schemas.topics import catalogue

from . import local_kafka
from .cli_common import console as out
from .cli_common import err_console as err
from .cli_common import print_json
from .kafka_client import bootstrap_servers
from .settings import Settings
from .topics import apply_topics, describe_topics

if TYPE_CHECKING:
    from collections.abc import Callable

    from .topics import TopicChange, TopicInfo

P = ParamSpec("P")
R = TypeVar("R")

kafka_app = typer.Typer(
    help="Run the project's local Kafka broker (or check the external one).",
    no_args_is_help=True,
)
topics_app = typer.Typer(help="Create and align the topics in the catalogue.", no_args_is_help=True)

def _expected_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print an expected failure as one red line (details below it), exit 1, no traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EminingError as exc:
            first, _, details = str(exc).partition("\n")
            err.print(f"[bold red]error:[/] {first}", highlight=False, soft_wrap=True)
            if details:
                err.print(details, highlight=False, markup=False, style="dim", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _human_size(size: int | None) -> str:
    return "-" if size is None else f"{size / 1024 / 1024:.0f} MiB"


def _print_status(found: local_kafka.BrokerStatus) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    state = "[green]running[/]" if found.running else "[yellow]stopped[/]"
    if found.running and not found.ready:
        state = "[yellow]running, not ready[/]"
    table.add_row("broker", state + (" (external)" if found.external else ""))
    table.add_row("bootstrap", found.bootstrap or "-")
    if not found.external:
        table.add_row("kafka", found.version or "-")
        table.add_row("pid", str(found.pid) if found.pid else "-")
        table.add_row("memory (RSS)", _human_size(found.rss_bytes))
        table.add_row("state dir", str(found.state_dir))
        table.add_row("log file", str(found.log_file))
    out.print(table)


@kafka_app.command()
@_expected_errors
def up() -> None:
    """Start the local broker (fetching its jars once) and wait until it is ready."""
    settings = Settings()
    with err.status("starting Kafka", spinner="dots") as spinner:
        found = local_kafka.up(settings, on_phase=spinner.update)
    where = "external cluster" if found.external else f"local broker, pid {found.pid}"
    err.print(f"[green]Kafka is ready[/] ({where})")
    typer.echo(found.bootstrap)


@kafka_app.command()
@_expected_errors
def down(
    timeout: Annotated[float, typer.Option(help="seconds to wait before SIGKILL")] = 30.0,
) -> None:
    """Stop the local broker; its data stays in the state dir for the next ``up``."""
    settings = Settings()
    if settings.kafka_bootstrap:
        err.print(f"EMINING_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}: external, left running")
        return
    before = local_kafka.status(settings)
    if not before.running:
        err.print(f"no local broker is running in {before.state_dir}")
        return
    with err.status(f"stopping Kafka (pid {before.pid})", spinner="dots"):
        local_kafka.down(settings, timeout_s=timeout)
    err.print(f"[green]Kafka stopped[/] (data kept in {before.state_dir})")


@kafka_app.command()
@_expected_errors
def status(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Is the broker running, and where."""
    found = local_kafka.status(Settings())
    if as_json:
        print_json(found.to_json())
    else:
        _print_status(found)


@kafka_app.command()
@_expected_errors
def logs(
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="how many lines")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
) -> None:
    """The local broker's log (``server.log`` in the state dir)."""
    settings = Settings()
    if not follow:
        text = local_kafka.logs(settings, lines)
        if text:
            typer.echo(text)  # plain: log lines must not be re-wrapped or re-coloured
        return
    try:
        for line in local_kafka.follow(settings, lines):
            typer.echo(line)
    except KeyboardInterrupt:
        return


def _changes_table(changes: list[TopicChange]) -> Table:
    table = Table(title="catalogue topics")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("action")
    table.add_column("detail")
    colours = {"created": "green", "updated": "yellow", "unchanged": "dim"}
    for change in changes:
        partitions = str(change.partitions)
        if change.partitions_before not in (None, change.partitions):
            partitions = f"{change.partitions_before} → {change.partitions}"
        detail = [f"{key}: {old} → {new}" for key, (old, new) in change.config_changes.items()
                  if change.action != "created"]
        detail += [f"[red]{warning}[/]" for warning in change.warnings]
        table.add_row(
            change.topic, partitions, f"[{colours[change.action]}]{change.action}[/]",
            "\n".join(detail),
        )
    return table


@topics_app.command("apply")
@_expected_errors
def apply_catalogue(
    as_json: Annotated[bool, typer.Option("--json", help="print the changes as JSON")] = False,
) -> None:
    """Create missing catalogue topics and align partitions and configs (idempotent).

    Then one ``emining.alerts.<org>`` per organisation in the registry (read from the log) and
    the platform's own; run it again after onboarding (the alert workers also create a missing
    alerts topic on first use).
    """
    settings = Settings()
    bootstrap = bootstrap_servers(settings)
    changes = asyncio.run(
        apply_topics(
            bootstrap, catalogue(settings.topic_partitions),
            replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
        )
    )
    changes += asyncio.run(_alerts_topics(settings))
    if as_json:
        print_json([change.to_json() for change in changes])
        return
    out.print(_changes_table(changes))
    changed = sum(change.action != "unchanged" for change in changes)
    err.print(f"{changed} topic(s) changed on {bootstrap}" if changed else "no changes")


async def _alerts_topics(settings: Settings) -> list[TopicChange]:
    from schemas.registry import Registry  # noqa: PLC0415 - keep CLI start-up light

    from . import alerts_wiring, wiring  # noqa: PLC0415

    try:
        registry = await wiring.load_registry(settings)
    except EminingError:  # no trust anchor yet, or an empty log: only the platform's topic
        registry = Registry()
    return await apply_topics(
        bootstrap_servers(settings), alerts_wiring.alert_topic_specs(registry),
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
    )


def _topics_table(topics: dict[str, TopicInfo]) -> Table:
    table = Table(title="topics")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("replication", justify="right")
    table.add_column("config overrides")
    for info in topics.values():
        config = ", ".join(f"{key}={value}" for key, value in sorted(info.config.items()))
        table.add_row(info.name, str(info.partitions), str(info.replication), config)
    return table


@topics_app.command("list")
@_expected_errors
def list_topics(
    as_json: Annotated[bool, typer.Option("--json", help="print the topics as JSON")] = False,
) -> None:
    """Every non-internal topic on the broker, with partitions and config overrides."""
    settings = Settings()
    topics = asyncio.run(
        describe_topics(bootstrap_servers(settings), timeout_s=settings.client_timeout_s)
    )
    if as_json:
        print_json(
            [
                {"topic": i.name, "partitions": i.partitions, "replication": i.replication,
                 "config": i.config}
                for i in topics.values()
            ]
        )
    else:
        out.print(_topics_table(topics))
