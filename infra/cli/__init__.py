"""The ``emining`` command (``[project.scripts]``: ``infra.cli:main``).

``root`` assembles the Typer app from one module per room of commands (``kafka``, ``publish``,
``participants``, ``views``, ``audit``, ...); ``common`` is their shared toolbox (consoles,
errors, dates, tables). Only ``app`` and ``main`` are public.
"""

from __future__ import annotations

from infra.cli.root import app, main

__all__ = ["app", "main"]
