"""Benchmarks print their result on stdout and nothing else; logs and progress go to stderr.

``--json`` output is a document for ``python -m json.tool``, ``jq`` or a CI step, so while a
benchmark runs, stdout (the file descriptor, so child processes too: a broker, ``initdb``,
uvicorn's access log) is pointed at stderr; the result is written once it is restored.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

from infra.logging import configure_logging


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Within the block, whatever is written to stdout goes to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def quiet_logging() -> None:
    """Logs to stderr at WARNING (a log line per event would be the load being measured)."""
    configure_logging(os.environ.get("EMINING_LOG_LEVEL") or "warning", "console")


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    sys.stdout.flush()
