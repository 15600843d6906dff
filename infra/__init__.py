"""Running the platform, one room per job: ``cli`` (the ``emining`` command), ``compose`` (the
composition root: every service from ``Settings``), ``local_kafka`` and ``kafka_admin`` (the
broker and its topics, ACLs, credentials), ``demo``; ``settings``, ``logging``, ``metrics``.

Its main names, each imported on first use (``emining`` imports this package on every Tab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from infra.cli import main
    from infra.compose import build_app
    from infra.settings import Settings

_MODULES = {
    "infra.cli": ("main",),
    "infra.compose": ("build_app",),
    "infra.settings": ("Settings",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["Settings", "build_app", "main"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
