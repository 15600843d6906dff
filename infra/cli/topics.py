"""``emining topics …``: create and align the topics of the catalogue (``apply`` also applies
the ACLs derived from the registry), list what the cluster holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import console as out
from infra.cli.common import deferred, expected_errors, print_json
from infra.cli.common import err_console as err
from infra.kafka_admin.acl_policy import AclOutcome, apply_policy
from schemas.topics import catalogue
from transport import eventloop

if TYPE_CHECKING:
    from rich.table import Table

    from infra.kafka_admin import acls
    from infra.kafka_admin.topics import apply_topics, describe_topics
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    acls = deferred("infra.kafka_admin.acls")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")
    apply_topics = deferred("infra.kafka_admin.topics", "apply_topics")
    describe_topics = deferred("infra.kafka_admin.topics", "describe_topics")

if TYPE_CHECKING:

    from infra.kafka_admin.topics import Durability, TopicChange, TopicInfo
    from schemas.registry import Registry
    from transport.access import KafkaAccess



topics_app = typer.Typer(help="Create and align the topics in the catalogue.", no_args_is_help=True)


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
@expected_errors
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
    changes, outcome = eventloop.run(_apply_all(settings, kafka, applied))
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
    from infra import compose  # noqa: PLC0415 - keep CLI start-up light

    changes = await apply_topics(
        kafka, catalogue(settings.topic_partitions),
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
        applied=applied,
    )
    registry, why = await compose.load_registry_or_why(settings)
    changes += await apply_topics(
        kafka, compose.alert_topic_specs(registry or _empty_registry()),
        replication=settings.topic_replication, timeout_s=settings.client_timeout_s,
    )
    return changes, await apply_policy(settings, kafka, registry, why)


def _empty_registry() -> Registry:
    from schemas.registry import Registry  # noqa: PLC0415 - keep CLI start-up light

    return Registry()


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
@expected_errors
def list_topics(
    as_json: Annotated[bool, typer.Option("--json", help="print the topics as JSON")] = False,
) -> None:
    """Every non-internal topic on the broker, with partitions and config overrides."""
    settings = Settings()
    topics = eventloop.run(
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
