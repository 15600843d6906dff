"""What every CLI command shares: settings, one-line errors, JSON output, running coroutines."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from schemas.errors import EminingError
from schemas.events.shipments_border import PAKISTAN_TIME

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear red line to stderr and exit; expected errors never show a traceback."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; an ``EminingError`` becomes a one-line error and exit code 1."""
    try:
        return asyncio.run(coro)
    except EminingError as exc:
        fail(str(exc))


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def parse_moment(text: str, option: str) -> datetime:
    """An ISO 8601 date or time from the command line. A bare date is the start of that day in
    Pakistan (the dates of the domain are Pakistani calendar dates: ``--valid-from 2025-04-01``
    holds from 00:00 PKT, ``--as-of 2025-06-08`` is the platform when that day began there); a
    time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 date or time (e.g. 2026-03-01 or "
             "2026-03-01T05:00:00Z)")
    if len(text.strip()) == len("2026-03-01"):
        return datetime.combine(moment.date(), time(0), PAKISTAN_TIME).astimezone(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte (replacing any file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.replace(path)
