"""Every event type the bus knows, by CloudEvents type, with upcasters for older versions."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from schemas.base import EventData
from schemas.errors import RecordError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""``(TYPE, from_version) -> step`` turning version N data into version N+1 data.

The only place versions are bridged. A breaking change to a type bumps its ``VERSION`` and adds
one step here, e.g. ``UPCASTERS[("pk.emining.project.registered", 1)] = upcast_v1_v2``.
"""

_VERSIONED = re.compile(r"^(?P<name>[a-z0-9.]+)\.v(?P<version>[1-9][0-9]*)$")


@cache
def event_types() -> dict[str, type[EventData]]:
    """Current version of every event type, keyed by its CloudEvents type."""
    from schemas.alerts import ALERT_EVENTS  # noqa: PLC0415 - keeps import order acyclic
    from schemas.events.registry import ALL_EVENTS  # noqa: PLC0415
    from schemas.participants import REGISTRY_EVENTS  # noqa: PLC0415

    table: dict[str, type[EventData]] = {}
    for cls in (*ALL_EVENTS, *REGISTRY_EVENTS, *ALERT_EVENTS):
        if cls.ce_type() in table:
            raise RuntimeError(f"event type {cls.ce_type()} is defined twice")
        table[cls.ce_type()] = cls
    return table


@cache
def _by_name() -> dict[str, type[EventData]]:
    return {cls.TYPE: cls for cls in event_types().values()}


def model_for(name: str) -> type[EventData]:
    """The model of a type given with or without its ``.vN`` suffix (current version)."""
    match = _VERSIONED.match(name)
    cls = _by_name().get(match["name"] if match else name)
    if cls is None:
        raise RecordError("unknown_type", f"unknown event type {name!r}")
    return cls


def resolve_type(ce_type: str, data: dict[str, Any]) -> tuple[type[EventData], dict[str, Any]]:
    """The model for ``ce_type`` and ``data`` upcast to that model's current version."""
    match = _VERSIONED.match(ce_type)
    if match is None:
        raise RecordError("unknown_type", f"event type {ce_type!r} has no .vN version suffix")
    cls = _by_name().get(match["name"])
    version = int(match["version"])
    if cls is None:
        raise RecordError("unknown_type", f"unknown event type {ce_type!r}")
    if version > cls.VERSION:
        raise RecordError(
            "unknown_type", f"{ce_type} is newer than this reader (knows v{cls.VERSION})"
        )
    while version < cls.VERSION:
        step = UPCASTERS.get((cls.TYPE, version))
        if step is None:
            raise RecordError("unknown_type", f"no upcaster from {cls.TYPE} v{version}")
        data = step(data)
        version += 1
    return cls, data
