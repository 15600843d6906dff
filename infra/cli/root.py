"""The ``emining`` command: one Typer app that mounts each room's sub-commands.

Importing it stays light (no Kafka client, web framework, database driver or event models):
shell completion imports it on every Tab, so each command imports what it needs when it runs.
``tests/unit/test_cli_startup.py`` holds this."""

from __future__ import annotations

import typer

from infra.cli.acls import acls_app, services_app
from infra.cli.alerts import alerts_app
from infra.cli.audit import audit_app
from infra.cli.checkpoints import checkpoint_app, witness_app
from infra.cli.demo import demo
from infra.cli.kafka import kafka_app
from infra.cli.participants import membership_app
from infra.cli.participants_registry import registry_app
from infra.cli.participants_rights import rights_app
from infra.cli.publish import import_file, keys_app, publish
from infra.cli.schemas import schemas_app
from infra.cli.serve import apikeys_app, custody_app, serve
from infra.cli.tail import tail
from infra.cli.topics import topics_app
from infra.cli.users import users_app
from infra.cli.views import read_app
from infra.cli.views_run import upkeep_app

app = typer.Typer(
    name="emining",
    help="Pak-China E-Mining Bus: signed project, approval and shipment events on Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# A room of several command modules: one group, their commands in the order they are listed.
participants_app = typer.Typer(
    help="The participants registry (operator only).", no_args_is_help=True
)
for part in (membership_app, rights_app, registry_app):
    participants_app.add_typer(part)
views_app = typer.Typer(
    help="Synchronized views: projects, licences and approvals, shipments, timelines.",
    no_args_is_help=True,
)
for part in (read_app, upkeep_app):
    views_app.add_typer(part)

app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
app.add_typer(acls_app, name="acls")
app.add_typer(services_app, name="services")
app.add_typer(keys_app, name="keys")
app.add_typer(participants_app, name="participants")
app.add_typer(schemas_app, name="schemas")
app.command("publish")(publish)
app.command("import")(import_file)
app.command("serve")(serve)
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(custody_app, name="custody")
app.add_typer(users_app, name="users")
app.add_typer(views_app, name="views")
app.add_typer(alerts_app, name="alerts")
app.add_typer(audit_app, name="audit")
app.add_typer(checkpoint_app, name="checkpoint")
app.add_typer(witness_app, name="witness")
app.command("demo")(demo)
app.command("tail")(tail)


@app.callback()
def _setup() -> None:
    import logging  # noqa: PLC0415 - completion never gets here

    from infra.logging import configure_logging  # noqa: PLC0415
    from infra.settings import Settings  # noqa: PLC0415

    settings = Settings()
    level = settings.log_level or "warning"
    configure_logging(level, settings.log_format)
    if level.lower() != "debug":
        # a command explains a failed connection in one line of its own; aiokafka's error
        # lines before it ("Unable connect to …") only repeat it (long-running commands
        # configure logging again and log them)
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def main() -> None:
    app()
