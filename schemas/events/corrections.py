"""Corrections: history is never edited, a mistake is answered by an event naming the one it fixes.

One correction type per topic, keyed like the events it corrects so it lands on the same
partition after them, and carrying the same party field so the same authority rules apply.
``replacement`` holds only the corrected fields, as JSON values (never floats, for the same
canonical-JSON reason as everywhere else); ``schemas.events.registry.check_correction`` checks
them against the corrected type's fields.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, Field, JsonValue, model_validator

from schemas.base import EventData, Scope
from schemas.codes import fail
from schemas.events.examples import OPERATOR, PROJECT, SHIPMENT, TITLE
from schemas.events.projects import ProjectEvent
from schemas.events.shipments import ShipmentEvent
from schemas.events.spec import EventSpec, either, words
from schemas.identifiers import (
    USCC,
    ApprovalRef,
    EventId,
    province_of_approval,
    title_type_of_approval,
)
from schemas.measures import Text
from schemas.topics import APPROVALS

_CE_TYPE = re.compile(r"pk\.emining\.[a-z0-9]+(?:\.[a-z0-9]+)*\.v[1-9][0-9]*")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")
SPEAKER_FIELDS = frozenset({"operator_uscc", "holder_uscc", "proponent_uscc", "exporter_uscc"})
"""Fields naming the party an event speaks for: a correction may not re-attribute an event."""


class CorrectionReason(StrEnum):
    INCORRECT_DATA = "incorrect_data"
    """It happened, but some fields were wrong: ``replacement`` gives the right values."""
    DID_NOT_OCCUR = "did_not_occur"
    """It never happened: readers undo the event's effect."""


def _check_ce_type(value: str) -> str:
    if not _CE_TYPE.fullmatch(value):
        fail("corrected_type_format", "corrected_type is a versioned event type such as "
             "pk.emining.shipment.lot.assayed.v1")
    return value


def _no_floats(value: JsonValue, path: str) -> None:
    if isinstance(value, float):
        fail("replacement_float", "replacement value at {path} is a float: give decimals as "
             "strings", path=path)
    if isinstance(value, dict):
        for key, item in value.items():
            _no_floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_floats(item, f"{path}[{index}]")


def _check_replacement(value: dict[str, JsonValue]) -> dict[str, JsonValue]:
    if not value:
        fail("replacement_empty", "a replacement names at least one corrected field")
    for key, item in value.items():
        if not _FIELD.fullmatch(key):
            fail("replacement_field", "'{key}' is not a field name", key=key)
        _no_floats(item, key)
    return value


class Correction(EventData):
    """Fields every correction carries, whatever its topic."""

    FAMILY: ClassVar[str]
    """Type prefix the corrected event must have, e.g. ``pk.emining.project.``."""

    corrects_event_id: EventId
    """The CloudEvents id of the corrected event (same source: a party corrects its own events)."""
    corrected_type: Annotated[str, AfterValidator(_check_ce_type)]
    reason: CorrectionReason
    explanation: Text
    replacement: Annotated[
        dict[str, JsonValue], Field(max_length=100), AfterValidator(_check_replacement)
    ] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if not self.corrected_type.startswith(self.FAMILY):
            fail("corrected_type_family", "a {type} corrects only {family}* events",
                 type=self.TYPE, family=self.FAMILY)
        if self.reason is CorrectionReason.DID_NOT_OCCUR and self.replacement is not None:
            fail("replacement_unexpected", "an event that did not occur has no replacement")
        fixed = set(self.replacement or ()) & ({self.SUBJECT_FIELD} | SPEAKER_FIELDS)
        if fixed:
            fail("replacement_fixed_field", "a correction cannot change {field}: that would move "
                 "the event to another subject or party", field=", ".join(sorted(fixed)))
        return self


class ProjectCorrected(Correction, ProjectEvent):
    TYPE: ClassVar[str] = "pk.emining.project.corrected"
    FAMILY: ClassVar[str] = "pk.emining.project."
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "project_id": PROJECT, "operator_uscc": OPERATOR,
        "corrects_event_id": "0194f5b2-6c1e-7d3a-9a43-2f1c7e0b5a11",
        "corrected_type": "pk.emining.project.production.reported.v1",
        "reason": "incorrect_data",
        "explanation": "Milled tonnage was keyed from the wrong shift report",
        "replacement": {"ore_milled_t": "389200.000"},
    }


class ApprovalCorrected(Correction):
    """Corrects a licence, environmental, export or royalty event; keyed by its subject."""

    TYPE: ClassVar[str] = "pk.emining.approval.corrected"
    FAMILY: ClassVar[str] = "pk.emining.approval."
    TOPIC: ClassVar[str] = APPROVALS
    SUBJECT_FIELD: ClassVar[str] = "approval_ref"
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "approval_ref": TITLE, "holder_uscc": OPERATOR,
        "corrects_event_id": "0194f5b2-9d40-7c55-8e1a-5b7d2c9f0e23",
        "corrected_type": "pk.emining.approval.licence.granted.v1",
        "reason": "incorrect_data", "explanation": "Expiry date mistyped in the grant",
        "replacement": {"expires_on": "2029-01-31"},
    }

    approval_ref: ApprovalRef
    """The corrected event's subject: a title number, environmental file or LPCO number."""
    holder_uscc: USCC
    """The firm the corrected event concerns (its holder, proponent or exporter)."""

    def scope(self) -> Scope:
        return Scope(province=province_of_approval(self.approval_ref),
                     title_type=title_type_of_approval(self.approval_ref),
                     parties=frozenset({self.holder_uscc}))


class ShipmentCorrected(Correction, ShipmentEvent):
    TYPE: ClassVar[str] = "pk.emining.shipment.corrected"
    FAMILY: ClassVar[str] = "pk.emining.shipment."
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "shipment_id": SHIPMENT, "exporter_uscc": OPERATOR,
        "corrects_event_id": "0194f5b3-0a11-7e2b-a3c4-6d8e9f0a1b34",
        "corrected_type": "pk.emining.shipment.lot.assayed.v1",
        "reason": "did_not_occur",
        "explanation": "Assay certificate was issued for another shipment's lot",
    }


CORRECTOR = either("the emitter of the corrected event")

EVENTS: tuple[EventSpec, ...] = tuple(
    EventSpec(cls, CORRECTOR, detail=lambda d: f"{words(d.reason.value)}: {d.explanation}")
    for cls in (ProjectCorrected, ApprovalCorrected, ShipmentCorrected)
)
"""The registry entries of the corrections (``schemas.events.registry`` gathers them)."""
