"""Every SQL statement a process runs, timed: what ``alerts_trace`` and ``views_sql_trace`` share.

``listen(on_statement)`` registers SQLAlchemy's ``before_cursor_execute`` and
``after_cursor_execute`` on every engine and calls ``on_statement(kind, seconds, rows)`` after
each statement: its kind (``statement_key``), the seconds from the cursor's execute to its
return (on SQLite inline, SQLite's own work plus the driver's call and, for a query, its fetch)
and its parameter sets (those of an ``executemany``, else one). It returns what takes the
listeners off again. Nothing is imported here but SQLAlchemy: a tracer imports no consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

OnStatement = Callable[[str, float, int], None]


def statement_key(statement: str) -> str:
    """A statement's kind: its words up to ``WHERE``/``VALUES`` (first 90 characters)."""
    text = " ".join(statement.split())
    for cut in (" VALUES ", " WHERE ", " ORDER BY "):
        if cut in text:
            text = text[:text.index(cut)] + cut.rstrip()
            break
    return text[:90]


def listen(on_statement: OnStatement) -> Callable[[], None]:
    """Time every statement of every engine into ``on_statement``; returns the undo."""

    def before(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any,
               _many: bool) -> None:
        context._bench_started = time.perf_counter()  # noqa: SLF001

    def after(_conn: Any, _cursor: Any, statement: str, params: Any, context: Any,
              many: bool) -> None:
        took = time.perf_counter() - getattr(context, "_bench_started", time.perf_counter())
        on_statement(statement_key(statement), took, len(params) if many else 1)

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)

    def undo() -> None:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)

    return undo
