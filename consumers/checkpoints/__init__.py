"""Cosigned checkpoints: the platform's checkpointer, the witnesses, their alarms (issue 21).

Its names are imported on first use (importing the package loads nothing more).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from consumers.checkpoints.alarms import Alarm, alerts_for
    from consumers.checkpoints.checkpointer import Checkpointer
    from consumers.checkpoints.witness import Witness

_MODULES = {
    "consumers.checkpoints.alarms": ("Alarm", "alerts_for"),
    "consumers.checkpoints.checkpointer": ("Checkpointer",),
    "consumers.checkpoints.witness": ("Witness",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["Alarm", "Checkpointer", "Witness", "alerts_for"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
