"""structlog set-up: JSON lines for services and pipes, readable output on a terminal.

Standard-library loggers (aiokafka, uvicorn) go through the same renderer, so a service writes
one format; their INFO chatter is held back to WARNING unless EMINING_LOG_LEVEL=debug. uvicorn's
own loggers (``uvicorn``, ``uvicorn.error``, ``uvicorn.access``) lose the plain handlers its
default config gives them and reach the root's, so its start-up and shutdown lines are JSON too;
Python's warnings are logged (``py.warnings``) instead of printed.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

_CHATTY = ("aiokafka", "kafka", "uvicorn.access", "faststream")
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at write time (test runners swap and close it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Configure structlog and stdlib logging once per process; logs go to stderr."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if use_json
        # No local variables in tracebacks: a frame's locals can hold a password or a key.
        else structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False))
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer]
        if use_json
        else [*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        # a stdlib record's traceback as one string field, not a tuple's repr
                        *([structlog.processors.format_exc_info] if use_json else []),
                        renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in _UVICORN:  # in case uvicorn's default config ran first (`uvicorn --factory`)
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _CHATTY:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(capture=True)
