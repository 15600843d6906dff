"""Reading the bus: the verification stage, the synchronized views, alerts, the audit, the web
console. Subpackages name their own surface (``consumers.alerts``, ``consumers.audit``,
``consumers.checkpoints``); the composition root (``infra.compose``) assembles them.

Its main names, each imported on first use (importing ``consumers`` loads nothing more). A name
here is never a submodule's name too: once imported, the submodule would shadow it
(``consumers.rebuild`` is the module; its function is ``consumers.rebuild.rebuild``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from consumers.audit import verify_log
    from consumers.audit.replay import replay
    from consumers.config import ViewsConfig, ViewTopics
    from consumers.freshness import Freshness
    from consumers.runner import run_views, run_views_forever
    from consumers.store import ViewStore
    from consumers.tail import tail_topic

_MODULES = {
    "consumers.audit": ("verify_log",),
    "consumers.audit.replay": ("replay",),
    "consumers.config": ("ViewTopics", "ViewsConfig"),
    "consumers.freshness": ("Freshness",),
    "consumers.runner": ("run_views", "run_views_forever"),
    "consumers.store": ("ViewStore",),
    "consumers.tail": ("tail_topic",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["Freshness", "ViewStore", "ViewTopics", "ViewsConfig", "replay", "run_views",
           "run_views_forever", "tail_topic", "verify_log"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
