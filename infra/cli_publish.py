"""Compatibility alias: ``tests/faults/harness.py`` still imports ``infra.cli_publish._with_id``.

The ``emining`` commands moved to the ``infra.cli`` package (``infra/cli/publish.py``). This
alias goes once ``tests/faults`` (being edited elsewhere) imports ``infra.cli.publish``.
"""

from __future__ import annotations

from infra.cli.publish import _with_id

__all__ = ["_with_id"]
