"""What the generator decided, recorded as it decided it: the year's expected outcome.

The stories write here when they settle a subject's fate (this title ends the year granted, that
shipment gets as far as the ship), so the expected summary never re-derives state from the
events: checking the views against it compares two independent accounts of the same year.
Statuses use the views' vocabulary (``consumers.views.models``) so the two compare directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from consumers.views.models import ApprovalKind, ApprovalStatus, ShipmentStatus
from schemas.events.projects import ProjectStage
from schemas.events.shipments import ExitPoint

IN_TRANSIT = frozenset({
    ShipmentStatus.LOADED, ShipmentStatus.DEPARTED, ShipmentStatus.DECLARED,
    ShipmentStatus.CLEARED, ShipmentStatus.CROSSED_BORDER, ShipmentStatus.AT_SEA,
})
"""Shipments on their way: loaded but not yet delivered, and not held."""


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A file awaiting its authority's decision at the end of the year, and what is due when.

    The deemed-approved filing is among them: on the log it is still ``filed`` (no EPA decided
    it), and its ``deemed_approval_on`` deadline has passed, which is what makes it approved.
    """

    ref: str
    kind: ApprovalKind
    status: ApprovalStatus
    holder_uscc: str
    authority: str
    deadline: str
    """The view's name for the running deadline: decision_due_on, respond_by, deemed_approval_on."""
    due_on: date

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "kind": self.kind.value, "status": self.status.value,
                "holder_uscc": self.holder_uscc, "authority": self.authority,
                "deadline": self.deadline, "due_on": self.due_on.isoformat()}


@dataclass(frozen=True, slots=True)
class DeemedApproval:
    """An IEE/EIA left undecided: approved by law four months after it was complete."""

    file_number: str
    epa: str
    proponent_uscc: str
    complete_on: date
    deemed_on: date

    def to_json(self) -> dict[str, Any]:
        return {"file_number": self.file_number, "epa": self.epa,
                "proponent_uscc": self.proponent_uscc, "complete_on": self.complete_on.isoformat(),
                "deemed_on": self.deemed_on.isoformat()}


@dataclass(slots=True)
class Anchors:
    """Subjects and events the attacks aim at (set by the stories that create them)."""

    refused_title: tuple[str, str] | None = None
    """(title number, applicant USCC) of an application Balochistan refused."""
    pending_ba_title: tuple[str, str] | None = None
    pending_gb_title: tuple[str, str, str] | None = None
    """(title number, applicant USCC, applicant org) of a GB application awaiting a decision."""
    royalty_payment: str | None = None
    """Event id of a royalty payment (the record an attacker replays)."""
    held_declaration: str | None = None


@dataclass(slots=True)
class Facts:
    """The ledger the stories write; ``expected()`` freezes it."""

    stages: dict[str, ProjectStage] = field(default_factory=dict)
    titles: dict[str, ApprovalStatus] = field(default_factory=dict)
    environmental: dict[str, ApprovalStatus] = field(default_factory=dict)
    exports: dict[str, ApprovalStatus] = field(default_factory=dict)
    shipments: dict[str, ShipmentStatus] = field(default_factory=dict)
    crossed_khunjerab: list[str] = field(default_factory=list)
    loaded_at_port: dict[ExitPoint, list[str]] = field(default_factory=dict)
    pending: dict[str, PendingApproval] = field(default_factory=dict)
    conversions: dict[str, str] = field(default_factory=dict)
    deemed: DeemedApproval | None = None
    restored_on_appeal: str | None = None
    held_shipment: str | None = None
    no_approval_shipment: str | None = None
    corrected_event: str | None = None
    correction_event: str | None = None
    idle: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Project → spells (first day, day after the last) it neither produces nor ships."""
    output: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Project → reporting month → dry tonnes of its main product (royalty is assessed on it)."""
    anchors: Anchors = field(default_factory=Anchors)

    def expected(self, as_of: datetime) -> Expected:
        def required(value: str | None, what: str) -> str:
            if value is None:
                raise ValueError(f"the year has no {what}")
            return value

        if self.deemed is None:
            raise ValueError("the year has no deemed approval")
        return Expected(
            as_of=as_of, projects=dict(sorted(self.stages.items())),
            titles=dict(sorted(self.titles.items())),
            environmental=dict(sorted(self.environmental.items())),
            exports=dict(sorted(self.exports.items())),
            shipments=dict(sorted(self.shipments.items())),
            pending=tuple(sorted(self.pending.values(), key=lambda p: (p.due_on, p.ref))),
            deemed_approved=self.deemed,
            conversions=dict(self.conversions),
            restored_on_appeal=required(self.restored_on_appeal, "restoration on appeal"),
            held_shipment_id=required(self.held_shipment, "customs hold"),
            no_approval_shipment_id=required(self.no_approval_shipment, "unapproved export"),
            corrected_event_id=required(self.corrected_event, "corrected event"),
            correction_event_id=required(self.correction_event, "correction"),
            crossed_khunjerab=tuple(self.crossed_khunjerab),
            loaded_at_port={port: tuple(ids) for port, ids in sorted(self.loaded_at_port.items())},
        )


def _tally(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


@dataclass(frozen=True, slots=True)
class Expected:
    """The year's outcome as the generator decided it, for the demo summary and the tests."""

    as_of: datetime
    projects: dict[str, ProjectStage]
    titles: dict[str, ApprovalStatus]
    environmental: dict[str, ApprovalStatus]
    exports: dict[str, ApprovalStatus]
    shipments: dict[str, ShipmentStatus]
    pending: tuple[PendingApproval, ...]
    deemed_approved: DeemedApproval
    conversions: dict[str, str]
    restored_on_appeal: str
    held_shipment_id: str
    no_approval_shipment_id: str
    corrected_event_id: str
    correction_event_id: str
    crossed_khunjerab: tuple[str, ...]
    loaded_at_port: dict[ExitPoint, tuple[str, ...]]

    def projects_by_stage(self) -> dict[str, int]:
        return _tally(self.projects.values())

    def titles_by_status(self) -> dict[str, int]:
        return _tally(self.titles.values())

    def shipments_by_state(self) -> dict[str, int]:
        return _tally(self.shipments.values())

    def in_transit(self) -> tuple[str, ...]:
        return tuple(s for s, state in self.shipments.items() if state in IN_TRANSIT)

    def held(self) -> tuple[str, ...]:
        return tuple(s for s, state in self.shipments.items() if state is ShipmentStatus.HELD)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "projects_by_stage": self.projects_by_stage(),
            "titles_by_status": self.titles_by_status(),
            "environmental_by_status": _tally(self.environmental.values()),
            "exports_by_status": _tally(self.exports.values()),
            "shipments_by_state": self.shipments_by_state(),
            "projects": {k: v.value for k, v in self.projects.items()},
            "titles": {k: v.value for k, v in self.titles.items()},
            "environmental": {k: v.value for k, v in self.environmental.items()},
            "exports": {k: v.value for k, v in self.exports.items()},
            "shipments": {k: v.value for k, v in self.shipments.items()},
            "in_transit": list(self.in_transit()),
            "held": list(self.held()),
            "pending": [p.to_json() for p in self.pending],
            "deemed_approved": self.deemed_approved.to_json(),
            "conversions": self.conversions,
            "restored_on_appeal": self.restored_on_appeal,
            "held_shipment_id": self.held_shipment_id,
            "no_approval_shipment_id": self.no_approval_shipment_id,
            "corrected_event_id": self.corrected_event_id,
            "correction_event_id": self.correction_event_id,
            "crossed_khunjerab": list(self.crossed_khunjerab),
            "loaded_at_port": {p.value: list(ids) for p, ids in self.loaded_at_port.items()},
        }
