"""``emining kafka …``, ``topics …``, ``acls …`` and ``services …``: the broker, its topics, who
may do what on it (ACLs derived from the registry) and the platform services' credentials."""

from __future__ import annotations

import asyncio
import functools
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from infra.cli.common import console as out
from infra.cli.common import deferred, fail, print_json, write_secret
from infra.cli.common import err_console as err
from infra.kafka_admin.acl_policy import (
    SECURITY_OFF,
    AclOutcome,
    apply_policy,
    load_registry_for_acls,
)
from schemas.errors import EminingError
from schemas.topics import catalogue

if TYPE_CHECKING:
    from rich.table import Table

    from infra import local_kafka
    from infra.kafka_admin import acls
    from infra.kafka_admin.acls import desired_acls, managed, service_acls
    from infra.kafka_admin.topics import apply_topics, describe_topics
    from infra.kafka_client import kafka_access
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    local_kafka = deferred("infra.local_kafka")
    acls = deferred("infra.kafka_admin.acls")
    desired_acls = deferred("infra.kafka_admin.acls", "desired_acls")
    managed = deferred("infra.kafka_admin.acls", "managed")
    service_acls = deferred("infra.kafka_admin.acls", "service_acls")
    kafka_access = deferred("infra.kafka_client", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    apply_topics = deferred("infra.kafka_admin.topics", "apply_topics")
    describe_topics = deferred("infra.kafka_admin.topics", "describe_topics")

if TYPE_CHECKING:
    from collections.abc import Callable

    from infra.kafka_admin.acls import Acl
    from infra.kafka_admin.admin import AclChanges
    from infra.kafka_admin.topics import Durability, TopicChange, TopicInfo
    from producers.connection import KafkaAccess
    from schemas.registry import Registry

P = ParamSpec("P")
R = TypeVar("R")

kafka_app = typer.Typer(
    help="Run the project's local Kafka broker (or check the external one).",
    no_args_is_help=True,
)
topics_app = typer.Typer(help="Create and align the topics in the catalogue.", no_args_is_help=True)
acls_app = typer.Typer(
    help="The broker's ACLs, derived from the participants registry (never set by hand).",
    no_args_is_help=True,
)
services_app = typer.Typer(
    help="Credentials of the platform's own services (views, alerts, audit, gateway).",
    no_args_is_help=True,
)

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
    if found.brokers > 1 or found.external:
        table.add_row("brokers", str(found.brokers))
        table.add_row("active controller",
                      "-" if found.active_controller is None else f"node {found.active_controller}")
    if not found.external:
        table.add_row("kafka", found.version or "-")
        if found.brokers == 1:
            table.add_row("pid", str(found.pid) if found.pid else "-")
        table.add_row("memory (RSS)", _human_size(found.rss_bytes))
        table.add_row("state dir", str(found.state_dir))
        table.add_row("log file", str(found.log_file))
    out.print(table)
    if found.brokers > 1 or found.external:
        out.print(_nodes_table(found.nodes))


def _nodes_table(nodes: tuple[local_kafka.NodeStatus, ...]) -> Table:
    table = Table(title="nodes")
    for column in ("node", "state", "pid", "roles", "client", "controller"):
        table.add_column(column)
    for node in nodes:
        state = "[green]alive[/]" if node.alive else "[red]down[/]"
        if node.active_controller:
            state += " (active controller)"
        table.add_row(
            str(node.node_id), state, str(node.pid or "-"), ",".join(node.roles),
            f"{node.host}:{node.broker_port}" if node.broker_port else "-",
            f"{node.host}:{node.controller_port}" if node.controller_port else "-",
        )
    return table


@kafka_app.command()
@_expected_errors
def up(
    brokers: Annotated[int | None, typer.Option(
        "--brokers", min=1, max=3,
        help="1: one node; 3: a local KRaft cluster of three (default: what the state dir"
             " holds, one node when new)")] = None,
) -> None:
    """Start the local broker or cluster (fetching its jars once) and wait until it is ready."""
    settings = Settings()
    if brokers is not None and brokers not in local_kafka.CLUSTER_SIZES:
        fail(f"--brokers {brokers}: the local cluster has 1 or 3 nodes")
    with err.status("starting Kafka", spinner="dots") as spinner:
        found = local_kafka.up(settings, on_phase=spinner.update, brokers=brokers)
    if found.external:
        where = "external cluster"
    elif found.brokers > 1:
        pids = ", ".join(str(n.pid) for n in found.nodes)
        where = f"local cluster of {found.brokers}, pids {pids}"
    else:
        where = f"local broker, pid {found.pid}"
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
    pids = before.pid or ", ".join(str(n.pid) for n in before.nodes if n.alive)
    with err.status(f"stopping Kafka (pid {pids})", spinner="dots"):
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
    node: Annotated[int | None, typer.Option(
        "--node", help="one node of a local cluster (default: each node; --follow: node 1)",
    )] = None,
) -> None:
    """The local broker's log (``server.log`` in the state dir; a cluster's per node)."""
    settings = Settings()
    if not follow:
        text = local_kafka.logs(settings, lines, node=node)
        if text:
            typer.echo(text)  # plain: log lines must not be re-wrapped or re-coloured
        return
    try:
        for line in local_kafka.follow(settings, lines, node=node):
            typer.echo(line)
    except KeyboardInterrupt:
        return


@kafka_app.command()
@_expected_errors
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="really delete the broker's data")] = False,
) -> None:
    """Stop the local broker and delete its data and credentials (next ``up`` starts empty).

    For a broker whose data predates authentication, or to start over. Every topic, event,
    credential and ACL on it is lost; the jars and ports are kept.
    """
    settings = Settings()
    if settings.kafka_bootstrap:
        raise local_kafka.ExternalBrokerError(
            f"EMINING_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} is an external cluster:"
            " `kafka reset` only deletes the project's local broker"
        )
    if not yes:
        fail("this deletes every topic, event, credential and ACL of the local broker in"
             f" {local_kafka.Layout.of(settings).root}: run again with --yes")
    with err.status("stopping Kafka and deleting its data", spinner="dots"):
        root = local_kafka.reset(settings)
    err.print(f"[green]local broker reset[/] ({root}): run `emining kafka up` to start empty")


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
    the platform's own, then the ACLs derived from the registry (``emining acls apply``); run
    it again after onboarding (the alert workers also create a missing alerts topic on first
    use). ``--json`` prints the topic changes; the ACL summary goes to stderr.
    """
    settings = Settings()
    kafka = kafka_access(settings)
    applied: list[Durability] = []
    changes, outcome = asyncio.run(_apply_all(settings, kafka, applied))
    used = applied[0]
    if as_json:
        print_json([{**change.to_json(), "applied": used.to_json()} for change in changes])
    else:
        out.print(_changes_table(changes))
        changed = sum(change.action != "unchanged" for change in changes)
        err.print(f"{changed} topic(s) changed on {kafka.bootstrap}" if changed else "no changes")
    settings_line = ", ".join(f"{k}={v}" for k, v in used.config.items())
    err.print(f"applied: replication factor {used.replication} ({used.brokers} live broker(s)),"
              f" {settings_line}", highlight=False)
    outcome.report(err)


async def _apply_all(
    settings: Settings, kafka: KafkaAccess, applied: list[Durability]
) -> tuple[list[TopicChange], AclOutcome]:
    from infra import alerts_wiring  # noqa: PLC0415 - keep CLI start-up light

    changes = await apply_topics(
        kafka, catalogue(settings.topic_partitions),
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
        applied=applied,
    )
    registry, why = await load_registry_for_acls(settings)
    changes += await apply_topics(
        kafka, alerts_wiring.alert_topic_specs(registry or _empty_registry()),
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
    )
    return changes, await apply_policy(settings, kafka, registry, why)


def _empty_registry() -> Registry:
    from schemas.registry import Registry  # noqa: PLC0415 - keep CLI start-up light

    return Registry()


def _acls_table(acls: list[Acl], title: str, marks: dict[Acl, str] | None = None) -> Table:
    table = Table(title=title)
    for column in ("principal", "operation", "resource", "name", "pattern"):
        table.add_column(column, overflow="fold")
    if marks is not None:
        table.add_column("change")
    for acl in acls:
        row = [acl.principal, acl.operation, acl.resource, acl.name, acl.pattern]
        if marks is not None:
            row.append(marks[acl])
        table.add_row(*row)
    return table


@acls_app.command("apply")
@_expected_errors
def apply_acl_policy(
    as_json: Annotated[bool, typer.Option("--json", help="print created/deleted as JSON")] = False,
) -> None:
    """Make the broker's ACLs match the registry (idempotent; ``topics apply`` also does it).

    Creates what the registry grants, deletes every other ACL of an organisation or platform
    service principal; other principals' ACLs are never touched.
    """
    settings = Settings()
    kafka = kafka_access(settings)

    async def go() -> AclOutcome:
        registry, why = await load_registry_for_acls(settings)
        return await apply_policy(settings, kafka, registry, why)

    outcome = asyncio.run(go())
    if as_json:
        print_json(outcome.to_json())
        return
    if outcome.changes is not None and outcome.changes.changed:
        marks = dict.fromkeys(outcome.changes.created, "[green]created[/]")
        marks |= dict.fromkeys(outcome.changes.deleted, "[red]deleted[/]")
        out.print(_acls_table(sorted(marks), "ACL changes", marks))
        for other in outcome.changes.deleted_other:
            out.print(f"[red]deleted[/] {other}", highlight=False)
    outcome.report(err)


@acls_app.command("list")
@_expected_errors
def list_acls(
    as_json: Annotated[bool, typer.Option("--json", help="print the ACLs as JSON")] = False,
) -> None:
    """Every ACL on the broker; ``managed``: owned by the registry-derived policy."""
    settings = Settings()
    if settings.kafka_security == "none":
        fail(f"no ACLs to list: {SECURITY_OFF}")
    from infra.kafka_admin.admin import current_acls  # noqa: PLC0415 - keep CLI start-up light

    acls = sorted(asyncio.run(current_acls(kafka_access(settings))),
                  key=lambda a: (a.principal, a.resource, a.name, a.operation))
    if as_json:
        print_json([{**acl.to_json(), "managed": managed(acl.principal)} for acl in acls])
        return
    out.print(_acls_table(acls, "ACLs"))
    err.print(f"{len(acls)} ACL(s), {sum(managed(a.principal) for a in acls)} managed")


class Service(StrEnum):
    """The platform services with their own principal (``acls.SERVICES``; a unit test
    holds the two equal)."""

    VIEWS = "views"
    ALERTS = "alerts"
    AUDIT = "audit"
    GATEWAY = "gateway"
    CHECKPOINT = "checkpoint"


@services_app.command("credential")
@_expected_errors
def service_credential(
    service: Annotated[Service, typer.Argument(help="which service")],
    password_file: Annotated[Path | None, typer.Option(
        help="write the password to this file (mode 0600) instead of printing it")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Issue or rotate a platform service's SCRAM credential and apply its ACLs.

    The password is shown once (or only written to --password-file); the old one stops
    working. Run the service with EMINING_KAFKA_USERNAME and EMINING_KAFKA_PASSWORD(_FILE).
    """
    from infra.kafka_admin.admin import apply_acls, upsert_credential  # noqa: PLC0415 - start-up

    settings = Settings()
    if settings.kafka_security == "none":
        fail(f"no credential issued: {SECURITY_OFF}")
    kafka = kafka_access(settings)
    username = acls.SERVICES[service.value]

    async def go() -> tuple[str, AclChanges]:
        password = await upsert_credential(kafka, username)
        principal = f"User:{username}"
        return password, await apply_acls(kafka, service_acls(service.value), only={principal})

    password, changes = asyncio.run(go())
    if password_file is not None:
        write_secret(password_file, password + "\n")
    shown = None if password_file is not None else password
    if as_json:
        print_json({"service": service.value, "username": username, "password": shown,
                    "password_file": str(password_file) if password_file else None,
                    "acls": changes.to_json()})
        return
    err.print(f"[green]credential issued[/] for {service.value} (principal User:{username});"
              f" ACLs: {len(changes.created)} created, {len(changes.deleted)} deleted",
              highlight=False)
    typer.echo(f"EMINING_KAFKA_USERNAME={username}")
    if password_file is not None:
        typer.echo(f"EMINING_KAFKA_PASSWORD_FILE={password_file}")
    else:
        typer.echo(f"EMINING_KAFKA_PASSWORD={password}")
        err.print("[yellow]shown once:[/] store it now; rotate with the same command")


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
        describe_topics(kafka_access(settings), timeout_s=settings.client_timeout_s)
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


class ConfigFlavour(StrEnum):
    JAVA = "java"
    LIBRDKAFKA = "librdkafka"


@kafka_app.command("client-config")
@_expected_errors
def client_config(
    out_file: Annotated[Path, typer.Option("--out", help="the properties file to write "
                                           "(mode 0600; replaced if it exists)")],
    flavour: Annotated[ConfigFlavour, typer.Option(
        "--for", help="java: Kafka's CLI tools (--command-config, --consumer.config); "
        "librdkafka: kcat -F, confluent-kafka")] = ConfigFlavour.JAVA,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Write a Kafka client properties file for your own credential (EMINING_KAFKA_*), for the
    stock Kafka tools: kafka-consumer-groups, kafka-console-consumer, kcat."""
    from infra.kafka_client import client_properties, librdkafka_properties  # noqa: PLC0415

    access = kafka_access(Settings())
    text = (client_properties(access) if flavour is ConfigFlavour.JAVA
            else librdkafka_properties(access))
    write_secret(out_file, text)
    if as_json:
        print_json({"file": str(out_file), "for": flavour.value, "bootstrap": access.bootstrap,
                    "principal": access.principal, "protocol": access.protocol})
        return
    err.print(f"wrote {out_file} (0600) for {access.principal} at {access.bootstrap}",
              highlight=False)
    typer.echo(str(out_file))


@kafka_app.command(
    "tool", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@_expected_errors
def tool(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(
        help="e.g. kafka-topics, kafka-consumer-groups (a name it does not know lists them)")],
) -> None:
    """Run one of Kafka's own CLI tools (the broker's version, fetched once from Maven Central),
    e.g. `emining kafka tool kafka-consumer-groups --bootstrap-server HOST:PORT --command-config
    client.properties --describe --group emining-views`. Its exit code is the tool's."""
    import subprocess  # noqa: PLC0415

    main_class = local_kafka.TOOLS.get(name)
    if main_class is None:
        fail(f"no Kafka tool {name!r}; the tools are: {', '.join(local_kafka.TOOLS)}")
    settings = Settings()
    libs = local_kafka.ensure_tools(settings, on_phase=err.print)
    java = local_kafka.require_tool("java")
    command = local_kafka.java_command(java=java, libs=libs, heap="-Xmx256m",
                                       main_class=main_class, args=list(ctx.args))
    raise typer.Exit(subprocess.call(command))  # noqa: S603 - argv, no shell
