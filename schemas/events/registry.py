"""The registry of event types: every event class of the shared topics with its entry, by
CloudEvents type and by topic.

Each event module declares its types' entries (``EVENTS``: ``schemas.events.spec.EventSpec``)
beside their classes; this module gathers them, once, in ``MODULES`` order within each shared
topic (corrections last). Everything that lists or keys event types reads from here: the
catalogue and the exported contract, the authority check (who may emit), the lifecycles, the
timeline, the alert rules and their texts, the access policy (which fields are personal or
commercial), the generated docs, and the tests.

No per-topic discriminated union is needed: in CloudEvents binary mode the type travels in the
``ce_type`` header, beside the JSON data, so a reader picks the class with
``BY_CE_TYPE[header]`` (or ``schemas.catalogue``, which adds upcasting) and validates the value
with it. The data itself carries no type tag to discriminate on, by design: it stays exactly the
event's fields, as signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, ModuleType
from typing import Any

from schemas.base import EventData
from schemas.enums import FieldClass
from schemas.errors import RecordError
from schemas.events import (
    approvals_applications,
    approvals_licences,
    approvals_other,
    corrections,
    projects,
    projects_reports,
    shipments,
    shipments_border,
)
from schemas.events.spec import EventAlert, EventSpec, Texts
from schemas.topics import SHARED_TOPICS

MODULES: tuple[ModuleType, ...] = (
    projects, projects_reports, approvals_applications, approvals_licences, approvals_other,
    shipments, shipments_border, corrections,
)
"""The event modules, each ending with its ``EVENTS``; a new module of event types is added here."""


def _gather(modules: tuple[ModuleType, ...]) -> tuple[EventSpec, ...]:
    found: list[EventSpec] = [spec for module in modules for spec in module.EVENTS]
    order = {topic: at for at, topic in enumerate(SHARED_TOPICS)}
    unknown = [spec.cls.__name__ for spec in found if spec.cls.TOPIC not in order]
    if unknown:  # pragma: no cover - a programming error, caught at import
        raise RuntimeError(f"event types outside the shared topics: {unknown}")
    return tuple(sorted(found, key=lambda spec: (
        order[spec.cls.TOPIC], issubclass(spec.cls, corrections.Correction))))


ENTRIES: tuple[EventSpec, ...] = _gather(MODULES)
"""Every entry, by topic, in ``MODULES`` order and each module's order within a topic (its
corrections last): the order of the docs and of ``emining schemas list``."""

ALL_EVENTS: tuple[type[EventData], ...] = tuple(spec.cls for spec in ENTRIES)
"""Event classes of the shared topics, in ``ENTRIES`` order."""

SPECS: Mapping[str, EventSpec] = MappingProxyType({s.cls.ce_type(): s for s in ENTRIES})
"""``ce_type`` header value → the type's entry."""

BY_CE_TYPE: dict[str, type[EventData]] = {cls.ce_type(): cls for cls in ALL_EVENTS}
"""``ce_type`` header value (``pk.emining.approval.licence.granted.v1``) → class."""

BY_TOPIC: dict[str, tuple[type[EventData], ...]] = {
    topic: tuple(cls for cls in ALL_EVENTS if topic == cls.TOPIC) for topic in SHARED_TOPICS
}
"""Topic → the classes that may appear on it."""

CORRECTIONS: dict[str, type[corrections.Correction]] = {
    cls.TOPIC: cls for cls in ALL_EVENTS if issubclass(cls, corrections.Correction)
}
"""Topic → its correction type."""


def spec_of(cls: type[EventData]) -> EventSpec | None:
    """The registry entry of ``cls`` (None: not a type of the shared topics)."""
    spec = SPECS.get(cls.ce_type())
    return spec if spec is not None and spec.cls is cls else None


def _alert_texts() -> Mapping[str, Texts]:
    texts: dict[str, Texts] = {}
    for spec in ENTRIES:
        for alert in spec.alerts:
            if texts.setdefault(alert.rule, alert.texts) != alert.texts:
                raise RuntimeError(f"alert rule {alert.rule} has two texts")  # pragma: no cover
    return MappingProxyType(texts)


ALERT_TEXTS: Mapping[str, Texts] = _alert_texts()
"""Alert rule declared by an entry → its words (one rule, one text, whatever type raises it)."""


def _restricted() -> dict[str, dict[str, FieldClass]]:
    table: dict[str, dict[str, FieldClass]] = {}
    for spec in ENTRIES:
        if spec.restricted and table.setdefault(spec.cls.TYPE, dict(spec.restricted)) != dict(
                spec.restricted):  # pragma: no cover - a programming error, caught at import
            raise RuntimeError(f"{spec.cls.TYPE}: two versions classify its fields differently")
    return table


RESTRICTED_FIELDS: dict[str, dict[str, FieldClass]] = _restricted()
"""Type name (without its ``.vN``) → its personal and commercial fields by dotted path, as its
entry declares (``EventSpec.restricted``); types with none are absent. Read through
``schemas.access.restricted_fields``. A correction type has none of its own: its ``replacement``
follows the corrected type's (``corrected_type``)."""


def alerts_of(cls: type[EventData]) -> tuple[EventAlert, ...]:
    spec = spec_of(cls)
    return spec.alerts if spec is not None else ()


if len(BY_CE_TYPE) != len(ALL_EVENTS):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError("two event classes share one CloudEvents type")


def event_class(ce_type: str, topic: str | None = None) -> type[EventData]:
    """The class for a ``ce_type`` header, refusing a type that does not belong on ``topic``."""
    cls = BY_CE_TYPE.get(ce_type)
    if cls is None:
        raise RecordError("unknown_type", f"no event type {ce_type!r} on the shared topics")
    if topic is not None and topic != cls.TOPIC:
        raise RecordError("wrong_topic", f"{ce_type} belongs on {cls.TOPIC}, not {topic}")
    return cls


def parse(ce_type: str, data: dict[str, Any], topic: str | None = None) -> EventData:
    """Validate JSON ``data`` as the event its ``ce_type`` header names."""
    return event_class(ce_type, topic).model_validate(data)


def check_correction(correction: corrections.Correction) -> type[EventData]:
    """The class a correction corrects, after checking its replacement names that class's fields.

    Kept out of the correction models so that they need not import every family. Whether the
    corrected event exists, has that type and subject, and came from the same source is for the
    reader holding the log (a view or the audit) to check.
    """
    corrected = event_class(correction.corrected_type, correction.TOPIC)
    if corrected.SUBJECT_FIELD in (correction.replacement or {}):
        raise RecordError("bad_correction", f"a correction cannot change {corrected.SUBJECT_FIELD}"
                          ", the corrected event's subject")
    unknown = sorted(set(correction.replacement or {}) - set(corrected.model_fields))
    if unknown:
        raise RecordError("bad_correction", f"{corrected.ce_type()} has no field "
                          + ", ".join(unknown))
    return corrected
