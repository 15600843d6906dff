"""The composition root: every service of the platform assembled from ``Settings``, here only.

- ``sdk``: the operator key, the trust anchor, the registry read from the log, publishers;
- ``views``: the view consumer (its configuration, metrics endpoint, the alerts it hosts);
- ``alerts``: the alerts' config, clock, verifier, topics, delivery and webhook workers, and the
  alerts service one command uses; ``alerts_runtime``: those workers running;
- ``checkpoints``: the checkpointer, the witnesses and the alarms they raise;
- ``app``: the HTTP service (gateway, read API, alerts, console; ``emining serve`` runs
  ``infra.compose.app:build_app``); ``console_audit``: the console's audit pages over the log.

The CLI (``infra.cli``) parses arguments and calls these; the demo builds on them. Names below
are imported on first use (``__getattr__``): importing ``infra.compose`` loads nothing, so the
``emining`` command starts light (``tests/unit/test_cli_startup.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.compose.alerts import (
        alert_clock,
        alert_config,
        alert_topic_specs,
        alert_verifier,
        alerts_service,
        ensure_alert_topics,
        webhook_targets,
    )
    from infra.compose.alerts_runtime import deliver_forever
    from infra.compose.app import build_app
    from infra.compose.checkpoints import checkpointer, raise_alarms, witness
    from infra.compose.console_audit import LogAudit
    from infra.compose.sdk import (
        PLATFORM_ORG,
        key_from_file,
        load_registry,
        operator_key,
        publisher,
        trust_anchor,
    )
    from infra.compose.views import run_views, serve_views_metrics, views_config

_WHERE = {
    "PLATFORM_ORG": "sdk", "key_from_file": "sdk", "load_registry": "sdk",
    "operator_key": "sdk", "publisher": "sdk", "trust_anchor": "sdk",
    "views_config": "views", "run_views": "views", "serve_views_metrics": "views",
    "alert_clock": "alerts", "alert_config": "alerts", "alert_topic_specs": "alerts",
    "alert_verifier": "alerts", "alerts_service": "alerts", "ensure_alert_topics": "alerts",
    "webhook_targets": "alerts",
    "deliver_forever": "alerts_runtime",
    "checkpointer": "checkpoints", "raise_alarms": "checkpoints", "witness": "checkpoints",
    "build_app": "app",
    "LogAudit": "console_audit",
}
"""Each public name → the module of this package that defines it."""

__all__ = [
    "PLATFORM_ORG",
    "LogAudit",
    "alert_clock",
    "alert_config",
    "alert_topic_specs",
    "alert_verifier",
    "alerts_service",
    "build_app",
    "checkpointer",
    "deliver_forever",
    "ensure_alert_topics",
    "key_from_file",
    "load_registry",
    "operator_key",
    "publisher",
    "raise_alarms",
    "run_views",
    "serve_views_metrics",
    "trust_anchor",
    "views_config",
    "webhook_targets",
    "witness",
]


def __getattr__(name: str) -> Any:
    """A public name, from its module, imported now (not cached: a test that patches the
    defining module's attribute is seen by every caller)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
