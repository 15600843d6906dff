"""What every CLI command shares: settings, one-line errors, JSON output, running coroutines."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar, cast

import typer

from schemas.enums import Language
from schemas.errors import EminingError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E", bound=StrEnum)


class _Lazy:
    """A rich ``Console`` made on first use: importing the CLI (and completing a command
    line in the shell) never loads rich's rendering."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def _real(self) -> Console:
        if self._console is None:
            from rich.console import Console  # noqa: PLC0415

            self._console = Console(stderr=self._stderr)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __enter__(self) -> Console:  # rich's live displays hold the console with ``with``
        return self._real().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._real().__exit__(*exc)


class _Deferred:
    """A module, or a name in one, imported when first called or read: the CLI's modules name
    what their commands use at the top (typed through ``TYPE_CHECKING`` imports) without
    importing it when the ``emining`` command starts."""

    def __init__(self, module: str, name: str | None) -> None:
        self._where = (module, name)
        self._target: Any = None

    def _get(self) -> Any:
        if self._target is None:
            module, name = self._where
            found = importlib.import_module(module)
            if name is None:
                self._target = found
            elif hasattr(found, name):
                self._target = getattr(found, name)
            else:  # a package's module not imported yet
                self._target = importlib.import_module(f"{module}.{name}")
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._get()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._get(), attribute)


def deferred(module: str, name: str | None = None) -> Any:
    """``module`` (or its ``name``), imported on first call or attribute read; for modules and
    callables only (``isinstance``, ``except`` and constants need the real object: import
    those inside the function that uses them)."""
    return _Deferred(module, name)


console = cast("Console", _Lazy(stderr=False))
"""Documents and results: stdout."""
err_console = cast("Console", _Lazy(stderr=True))
"""Progress, spinners, warnings and errors: stderr, so stdout stays one document."""


def fail(message: str, code: int = 1) -> NoReturn:
    """The CLI's one way to report an expected failure and exit: one clear red line to stderr
    (a message's further lines, if any, dim below it), exit ``code``, never a traceback.
    ``expected_errors`` and ``run`` turn an ``EminingError`` into this."""
    first, _, details = message.partition("\n")
    err_console.print(f"[bold red]error:[/] {first}", highlight=False, soft_wrap=True)
    if details:
        err_console.print(details, highlight=False, markup=False, style="dim", soft_wrap=True)
    raise typer.Exit(code)


def chosen(what: str, value: str, among: type[E], names: Mapping[str, str] | None = None) -> E:
    """One of a closed set from the command line; anything else (a typo, a name given for a
    code) exits with one line suggesting the closest valid values and listing them all."""
    try:
        return among(value)
    except ValueError:
        from consumers.store_read import unknown_value  # noqa: PLC0415 - only on a typo

        fail(unknown_value(what, value, [m.value for m in among], names))


LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ur": "Urdu"}


def language(option: str, value: str) -> Language:
    """``--lang``/``--language``: en, zh or ur, or a BCP 47 tag naming one of them (zh-Hans,
    zh-CN, en-GB, ur-PK); a typo gets a suggestion."""
    primary = value.split("-", 1)[0].split("_", 1)[0].casefold()
    if primary in LANGUAGE_NAMES:
        return Language(primary)
    return chosen(f"{option} language", value, Language, LANGUAGE_NAMES)


def completer(among: type[StrEnum]) -> Callable[[str], list[str]]:
    """Shell completion for an option that takes one of a closed set."""
    return lambda incomplete: [m.value for m in among if m.value.startswith(incomplete)]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; an ``EminingError`` becomes a one-line error and exit code 1."""
    from transport import eventloop  # noqa: PLC0415 - keep start-up light

    try:
        return eventloop.run(coro)
    except EminingError as exc:
        fail(str(exc))


def key_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    """A table whose first column is its key (an id to copy into the next command): printed
    whole on one line however narrow the terminal; the other columns fold instead."""
    from rich.table import Table  # noqa: PLC0415

    shown = [list(row) for row in rows]
    table = Table()
    key_width = max([len(headers[0]), *(len(row[0]) for row in shown)])
    table.add_column(headers[0], no_wrap=True, min_width=key_width)
    for header in headers[1:]:
        table.add_column(header, overflow="fold")
    for row in shown:
        table.add_row(*row)
    return table


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def parse_moment(text: str, option: str) -> datetime:
    """An ISO 8601 date or time from the command line. A bare date is the start of that day in
    Pakistan (the dates of the domain are Pakistani calendar dates: ``--valid-from 2025-04-01``
    holds from 00:00 PKT, ``--as-of 2025-06-08`` is the platform when that day began there); a
    time without an offset is UTC."""
    from schemas.events.shipments_border import PAKISTAN_TIME  # noqa: PLC0415

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


def expected_errors(command: Callable[P, R]) -> Callable[P, R]:
    """A command decorator: an ``EminingError`` out of the command is ``fail``ed (one red line,
    details below it, exit 1, no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EminingError as exc:
            fail(str(exc))

    return wrapper
