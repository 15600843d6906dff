"""Alerts between the two sides: rules, deadlines, rendering, and delivery (issue 6).

Its names are imported on first use (importing the package loads nothing more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from consumers.alerts.clock import Clock, ManualClock, SystemClock
    from consumers.alerts.config import AlertConfig, load_config
    from consumers.alerts.delivery import AlertDelivery
    from consumers.alerts.directory import Directory
    from consumers.alerts.plugin import AlertsPlugin
    from consumers.alerts.reader import AlertVerifier, follow
    from consumers.alerts.service import AlertsService
    from consumers.alerts.store import AlertStore

_MODULES = {
    "consumers.alerts.clock": ("Clock", "ManualClock", "SystemClock"),
    "consumers.alerts.config": ("AlertConfig", "load_config"),
    "consumers.alerts.delivery": ("AlertDelivery",),
    "consumers.alerts.directory": ("Directory",),
    "consumers.alerts.plugin": ("AlertsPlugin",),
    "consumers.alerts.reader": ("AlertVerifier", "follow"),
    "consumers.alerts.service": ("AlertsService",),
    "consumers.alerts.store": ("AlertStore",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["AlertConfig", "AlertDelivery", "AlertStore", "AlertVerifier", "AlertsPlugin",
           "AlertsService", "Clock", "Directory", "ManualClock", "SystemClock", "follow",
           "load_config"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
