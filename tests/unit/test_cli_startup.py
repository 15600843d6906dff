"""The ``emining`` command starts light: shell completion imports it on every Tab."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer

from infra.cli import app
from infra.cli.acls import Service
from infra.kafka_admin.acls import SERVICES
from schemas import common, enums
from schemas.events import projects

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("aiokafka", "faststream", "fastapi", "starlette", "sqlalchemy", "asyncpg", "aiosqlite",
         "cryptography", "uvicorn", "httpx", "jinja2", "babel", "structlog", "yaml",
         "pydantic_settings", "schemas.base", "schemas.registry", "producers.publisher",
         "consumers.store", "rich.table", "rich.progress")


def _loaded_after(code: str) -> set[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return set(json.loads(out))


def test_importing_the_cli_loads_no_heavy_module() -> None:
    loaded = _loaded_after("import infra.cli")
    assert "infra.cli.views" in loaded  # the probe did import the whole command tree
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_building_every_command_resolves_its_options_without_the_heavy_modules() -> None:
    """Typer reads every command's signature when it builds the command tree (as completion
    does): an option typed with something imported lazily would fail here."""
    loaded = _loaded_after("import typer, infra.cli\ntyper.main.get_command(infra.cli.app)")
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_the_command_tree_builds_here_too() -> None:
    command = typer.main.get_command(app)
    assert {"views", "publish", "import", "audit", "alerts"} <= set(
        command.commands)  # type: ignore[attr-defined]


def test_a_room_split_over_modules_is_one_group_in_its_order() -> None:
    """``participants`` and ``views`` are each assembled from several command modules: one
    group, every command once, in the order ``--help`` has always listed them."""
    command = typer.main.get_command(app)
    rooms = command.commands  # type: ignore[attr-defined]
    assert list(rooms["participants"].commands) == [
        "init", "add", "offboard", "credential", "grant", "backfill", "functions", "revoke",
        "add-key", "rotate-key", "seed", "list"]
    assert list(rooms["views"].commands) == [
        "projects", "approvals", "approval", "shipments", "project", "rebuild", "digest",
        "held", "run"]
    assert rooms["participants"].help == "The participants registry (operator only)."
    assert rooms["views"].no_args_is_help


def test_the_closed_sets_are_the_schema_classes() -> None:
    """The light module holds the very classes the event models use (no copy to drift)."""
    assert common.Language is enums.Language
    assert common.Province is enums.Province
    assert projects.ProjectStage is enums.ProjectStage


def test_the_service_choices_are_the_broker_services() -> None:
    assert {s.value for s in Service} == set(SERVICES)


def test_every_deferred_name_resolves() -> None:
    """What the CLI's modules import on first use exists where they say (a typo in a module
    or name would otherwise surface only when that command runs)."""
    from infra.cli import acls as cli_acls  # noqa: PLC0415
    from infra.cli import alerts as cli_alerts  # noqa: PLC0415
    from infra.cli import audit as cli_audit  # noqa: PLC0415
    from infra.cli import audit_output as cli_audit_output  # noqa: PLC0415
    from infra.cli import common as cli_common  # noqa: PLC0415
    from infra.cli import demo as cli_demo  # noqa: PLC0415
    from infra.cli import kafka as cli_kafka  # noqa: PLC0415
    from infra.cli import participants as cli_participants  # noqa: PLC0415
    from infra.cli import participants_common as cli_participants_common  # noqa: PLC0415
    from infra.cli import participants_registry as cli_participants_registry  # noqa: PLC0415
    from infra.cli import participants_rights as cli_participants_rights  # noqa: PLC0415
    from infra.cli import publish as cli_publish  # noqa: PLC0415
    from infra.cli import schemas as cli_schemas  # noqa: PLC0415
    from infra.cli import serve as cli_serve  # noqa: PLC0415
    from infra.cli import tail as cli_tail  # noqa: PLC0415
    from infra.cli import topics as cli_topics  # noqa: PLC0415
    from infra.cli import users as cli_users  # noqa: PLC0415
    from infra.cli import views as cli_views  # noqa: PLC0415
    from infra.cli import views_common as cli_views_common  # noqa: PLC0415
    from infra.cli import views_output as cli_views_output  # noqa: PLC0415
    from infra.cli import views_run as cli_views_run  # noqa: PLC0415

    checked = 0
    for module in (cli_acls, cli_alerts, cli_audit, cli_audit_output, cli_demo, cli_kafka,
                   cli_participants, cli_participants_common, cli_participants_registry,
                   cli_participants_rights, cli_publish, cli_schemas, cli_serve, cli_tail,
                   cli_topics, cli_users, cli_views, cli_views_common, cli_views_output,
                   cli_views_run):
        for name, value in vars(module).items():
            if isinstance(value, cli_common._Deferred):
                target = value._get()
                assert getattr(target, "__name__", name).rsplit(".", 1)[-1] == name, (
                    module.__name__, name)
                checked += 1
    assert checked > 100


def test_progress_and_spinners_draw_on_stderr_and_leave_stdout_to_the_result() -> None:
    """The consoles made on first use work as rich's live displays need them (``with``)."""
    code = """
from rich.progress import Progress
from infra.cli.common import console, err_console
with Progress(console=err_console, transient=False) as bar:
    task = bar.add_task("publishing", total=3)
    bar.update(task, advance=3)
with err_console.status("replaying"):
    pass
console.print("done", highlight=False)
"""
    ran = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    assert ran.stdout == "done\n"
    assert "publishing" in ran.stderr
    assert "3/3" in ran.stderr or "100%" in ran.stderr
