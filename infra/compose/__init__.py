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

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

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
        load_registry_or_why,
        operator_key,
        publisher,
        trust_anchor,
    )
    from infra.compose.views import run_views, serve_views_metrics, views_config

_MODULES = {
    "infra.compose.sdk": ("PLATFORM_ORG", "key_from_file", "load_registry",
                          "load_registry_or_why", "operator_key", "publisher", "trust_anchor"),
    "infra.compose.views": ("run_views", "serve_views_metrics", "views_config"),
    "infra.compose.alerts": ("alert_clock", "alert_config", "alert_topic_specs",
                             "alert_verifier", "alerts_service", "ensure_alert_topics",
                             "webhook_targets"),
    "infra.compose.alerts_runtime": ("deliver_forever",),
    "infra.compose.checkpoints": ("checkpointer", "raise_alarms", "witness"),
    "infra.compose.app": ("build_app",),
    "infra.compose.console_audit": ("LogAudit",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["PLATFORM_ORG", "LogAudit", "alert_clock", "alert_config", "alert_topic_specs",
           "alert_verifier", "alerts_service", "build_app", "checkpointer", "deliver_forever",
           "ensure_alert_topics", "key_from_file", "load_registry", "load_registry_or_why",
           "operator_key", "publisher", "raise_alarms", "run_views", "serve_views_metrics",
           "trust_anchor", "views_config", "webhook_targets", "witness"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
