"""``emining kafka …``: run the project's local Kafka broker or cluster (or check the external
one), its logs, client configs and Kafka's own command-line tools.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import console as out
from infra.cli.common import deferred, expected_errors, fail, print_json, write_secret
from infra.cli.common import err_console as err

if TYPE_CHECKING:
    from rich.table import Table

    from infra import local_kafka
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    local_kafka = deferred("infra.local_kafka")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")

if TYPE_CHECKING:

    pass



kafka_app = typer.Typer(
    help="Run the project's local Kafka broker (or check the external one).",
    no_args_is_help=True,
)


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
@expected_errors
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
@expected_errors
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
@expected_errors
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
@expected_errors
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
@expected_errors
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


class ConfigFlavour(StrEnum):
    JAVA = "java"
    LIBRDKAFKA = "librdkafka"


@kafka_app.command("client-config")
@expected_errors
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
    from transport.clients import client_properties, librdkafka_properties  # noqa: PLC0415

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
@expected_errors
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
