"""CLI of the synchronized views, their upkeep: run the consumer (views and alerts), rebuild
the views from the log, their digest, the records they hold back.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.cli.common import console, deferred, err_console, fail, print_json, run
from infra.cli.views_common import JsonOption, with_store
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.table import Table

    from infra import compose
    from infra.logging import configure_logging
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Table = deferred("rich.table", "Table")
    compose = deferred("infra.compose")
    configure_logging = deferred("infra.logging", "configure_logging")
    Settings = deferred("infra.settings", "Settings")

upkeep_app = typer.Typer()
"""Commands of ``emining views`` (the group is made in ``infra.cli.root``)."""


@upkeep_app.command("rebuild")
def rebuild(
    dlq: Annotated[bool, typer.Option(help="also send rejections to the DLQ again")] = False,
    as_json: JsonOption = False,
) -> None:
    """Replay the log from offset zero into a fresh generation, swap it in, print the digest."""
    from consumers.rebuild import rebuild as replay  # noqa: PLC0415

    config = _config_or_fail()
    # The spinner and any log line go to stderr (stdout is the result); the spinner is drawn
    # only on a terminal, and log lines written while it spins are printed above it.
    with err_console.status("replaying the shared topics from offset 0…"):
        result = run(replay(config, publish_dlq=dlq))
    if as_json:
        print_json(result.as_dict())
        return
    console.print(f"rebuilt generation {result.generation}: {result.applied} applied, "
                  f"{result.rejected} rejected in {result.seconds:.1f}s\n"
                  f"digest {result.digest.sha256}", highlight=False)


@upkeep_app.command("digest")
def digest(as_json: JsonOption = False) -> None:
    """The digest of the live views' content (the same log always gives the same digest)."""
    from consumers.digest import digest as compute  # noqa: PLC0415

    async def work(store: Any, _: Any) -> Any:
        return await compute(store)

    found = run(with_store(work))
    if as_json:
        print_json(found.as_dict())
        return
    console.print(found.sha256, highlight=False)


def _held_for(held_at: object, now: datetime) -> float | None:
    """Seconds since a stored ``held_at``; ``None`` if it cannot be read."""
    try:
        return round((now - datetime.fromisoformat(str(held_at))).total_seconds(), 1)
    except (TypeError, ValueError):
        return None


@upkeep_app.command("held")
def held(as_json: JsonOption = False) -> None:
    """Records the views hold back: a source's chain has a gap or a fork, or they follow one."""
    from consumers.holding import held_records  # noqa: PLC0415

    async def work(store: Any, _: Any) -> Any:
        async with store.reading() as (conn, tables):
            return await held_records(conn, tables)

    rows = run(with_store(work))
    now = datetime.now(UTC)
    for r in rows:  # how long: a gap is alerted only past views_gap_grace_s
        r["held_for_s"] = _held_for(r["held_at"], now)
    if as_json:
        print_json({"held": rows})
        return
    table = Table("source", "sequence", "reason", "subject", "event id", "where", "held at",
                  "held for")
    for r in rows:
        table.add_row(r["source"], str(r["sequence"]), r["reason"], r["subject"], r["event_id"],
                      f"{r['topic']}[{r['log_partition']}]@{r['log_offset']}", r["held_at"],
                      "?" if r["held_for_s"] is None else f"{r['held_for_s']:.0f}s")
    console.print(table)
    console.print(f"{len(rows)} record(s) held", highlight=False)


InstanceId = Annotated[str | None, typer.Option(
    "--instance-id", help="static group membership id, one per process (default "
    "EMINING_VIEWS_INSTANCE): a process restarted with it within the session timeout gets its "
    "partitions back without a rebalance")]


@upkeep_app.command("run")
def run_consumer(instance_id: InstanceId = None) -> None:
    """Keep the views in step and raise and deliver the alerts, until SIGINT or SIGTERM.

    Several processes (one --instance-id each) may run on one PostgreSQL store: they share
    the partitions of the group, and the store applies their batches one after the other."""
    settings = Settings()
    configure_logging(settings.log_level or "info", settings.log_format)  # a service: info
    chosen = None if instance_id is None else instance_id.strip()
    config = _config_or_fail(chosen or None)
    if chosen == "":
        fail("--instance-id must not be empty")
    compose.serve_views_metrics(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await compose.run_views(settings, config, stop)

    run(main())


def _config_or_fail(instance_id: str | None = None) -> Any:
    try:
        return compose.views_config(Settings(), instance_id=instance_id)
    except EminingError as exc:
        fail(str(exc))
