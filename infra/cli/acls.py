"""``emining acls …`` and ``services …``: who may do what on the broker (ACLs derived from the
participants registry, never set by hand) and the platform services' own credentials.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import console as out
from infra.cli.common import deferred, expected_errors, fail, print_json, write_secret
from infra.cli.common import err_console as err
from infra.kafka_admin.acl_policy import SECURITY_OFF, AclOutcome, apply_policy
from transport import eventloop

if TYPE_CHECKING:
    from rich.table import Table

    from infra import compose
    from infra.kafka_admin import acls
    from infra.kafka_admin.acls import managed, service_acls
    from infra.kafka_settings import kafka_access
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    acls = deferred("infra.kafka_admin.acls")
    managed = deferred("infra.kafka_admin.acls", "managed")
    service_acls = deferred("infra.kafka_admin.acls", "service_acls")
    kafka_access = deferred("infra.kafka_settings", "kafka_access")
    Settings = deferred("infra.settings", "Settings")

if TYPE_CHECKING:

    from infra.kafka_admin.acls import Acl
    from infra.kafka_admin.admin import AclChanges



acls_app = typer.Typer(
    help="The broker's ACLs, derived from the participants registry (never set by hand).",
    no_args_is_help=True,
)
services_app = typer.Typer(
    help="Credentials of the platform's own services (views, alerts, audit, gateway).",
    no_args_is_help=True,
)


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
@expected_errors
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
        registry, why = await compose.load_registry_or_why(settings)
        return await apply_policy(settings, kafka, registry, why)

    outcome = eventloop.run(go())
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
@expected_errors
def list_acls(
    as_json: Annotated[bool, typer.Option("--json", help="print the ACLs as JSON")] = False,
) -> None:
    """Every ACL on the broker; ``managed``: owned by the registry-derived policy."""
    settings = Settings()
    if settings.kafka_security == "none":
        fail(f"no ACLs to list: {SECURITY_OFF}")
    from infra.kafka_admin.admin import current_acls  # noqa: PLC0415 - keep CLI start-up light

    acls = sorted(eventloop.run(current_acls(kafka_access(settings))),
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
@expected_errors
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

    password, changes = eventloop.run(go())
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
