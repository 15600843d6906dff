"""``emining checkpoint run --nice``: the checkpointer lowers its own CPU priority first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

import infra.cli.checkpoints as cli_checkpoints
import infra.compose.checkpoints
from infra.cli import app


class _Worker:
    halted: dict[str, str] = {}  # noqa: RUF012 - a stand-in

    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls

    async def run(self, *, once: bool, stop: asyncio.Event | None) -> None:
        self.calls.append(("run", once))


@pytest.mark.parametrize(("args", "niced"), [([], 10), (["--nice", "0"], 0),
                                             (["--nice", "19"], 19)])
def test_checkpoint_run_nices_itself_before_running(
        monkeypatch: pytest.MonkeyPatch, args: list[str], niced: int) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(cli_checkpoints.os, "nice", lambda n: calls.append(("nice", n)))
    monkeypatch.setattr(infra.compose.checkpoints, "checkpointer",
                        lambda settings, **kw: _Worker(calls))
    result = CliRunner().invoke(app, ["checkpoint", "run", "--once", *args])
    assert result.exit_code == 0, result.output
    assert calls == [("nice", niced), ("run", True)]


def test_checkpoint_run_refuses_a_negative_nice() -> None:
    result = CliRunner().invoke(app, ["checkpoint", "run", "--once", "--nice", "-5"])
    assert result.exit_code != 0
