"""``emining checkpoint run`` (the platform) and ``emining witness run --as ORG`` (each side)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infra.cli.common import deferred, fail, run

if TYPE_CHECKING:
    from infra.logging import configure_logging
    from infra.settings import Settings
    from producers.keys import load_key
else:  # imported when a command first uses them: `emining` starts light
    configure_logging = deferred("infra.logging", "configure_logging")
    Settings = deferred("infra.settings", "Settings")
    load_key = deferred("producers.keys", "load_key")

checkpoint_app = typer.Typer(
    help="Signed checkpoints (Merkle tree heads) of every partition of the shared record.",
    no_args_is_help=True)
witness_app = typer.Typer(
    help="Witness the platform's checkpoints: check consistency, cosign, refuse forks.",
    no_args_is_help=True)

OnceOption = Annotated[bool, typer.Option("--once", help="process what is there now and exit")]


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@checkpoint_app.command("run")
def checkpoint_run(
    every_seconds: Annotated[float, typer.Option(
        "--every-seconds", min=0.1, help="publish the grown heads at least this often")] = 10.0,
    every_records: Annotated[int, typer.Option(
        "--every-records", min=1, help="or after this many new records")] = 1000,
    once: OnceOption = False,
    nice: Annotated[int, typer.Option(
        "--nice", min=0, max=19,
        help="lower this process's CPU priority by this much (0: keep it): the checkpoints"
             " wait for the cadence anyway, the publishers and consumers do not")] = 10,
) -> None:
    """Checkpoint every partition of the shared topics and the registry, signed with the
    operator's key, to emining.checkpoints.v1; relay the witnesses' refusals as alerts."""
    from infra.compose import checkpointer  # noqa: PLC0415 - start-up

    settings = Settings()
    configure_logging(settings.log_level or "info", settings.log_format)  # a service: info
    os.nice(nice)  # background work: yield the CPU to the paths that serve people

    async def main() -> None:
        worker = checkpointer(settings, every_seconds=every_seconds, every_records=every_records)
        await worker.run(once=once, stop=None if once else _stop_on_signals())
        if worker.halted:
            fail(f"{len(worker.halted)} log(s) inconsistent with their last checkpoint: "
                 + "; ".join(f"{o}: {why}" for o, why in sorted(worker.halted.items())))

    run(main())


@witness_app.command("run")
def witness_run(
    as_org: Annotated[str, typer.Option("--as", help="the witnessing organisation's URN")],
    key: Annotated[Path, typer.Option(help="the organisation's key file")],
    once: OnceOption = False,
) -> None:
    """Cosign each new checkpoint consistent with the last one this organisation cosigned;
    refuse (and raise the alarm) on a fork, a shrink, a bad proof or a forged signature."""
    from infra.compose import witness  # noqa: PLC0415 - start-up

    settings = Settings()
    configure_logging(settings.log_level or "info", settings.log_format)
    private = load_key(key)
    if private.org != as_org:
        fail(f"key file {key} belongs to {private.org}, not {as_org}")

    async def main() -> None:
        worker = witness(settings, private)
        await worker.run(once=once, stop=None if once else _stop_on_signals())
        if once:
            typer.echo(f"cosigned {worker.cosigned}, refused {worker.state.refused} in all;"
                       f" state {worker.path}")

    run(main())
