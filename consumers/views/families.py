"""One explicit table: each shared topic's view, projection, registered party and opening events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from consumers.views import approvals, projects, shipments
from consumers.views.facts import Fact
from consumers.views.models import ApprovalView, ProjectView, ShipmentView, ViewDoc
from schemas.base import EventData
from schemas.events.approvals_applications import LicenceApplicationReceived
from schemas.events.approvals_other import EnvironmentalApprovalFiled, ExportApprovalDecided
from schemas.events.projects import ProjectRegistered
from schemas.events.shipments import ShipmentPlanned
from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS


@dataclass(frozen=True, slots=True)
class Family:
    """How one topic's events become one view."""

    name: str
    topic: str
    view_type: type[ViewDoc]
    apply: Callable[[Any, Fact], ViewDoc]
    party: Callable[[Any], str]
    """The subject's registered party (operator, holder, exporter) as the view holds it now."""
    opens: tuple[type[EventData], ...]
    """A subject's first event: refused when the subject already exists."""
    starts: tuple[type[EventData], ...]
    """Events a firm may use to start a subject it does not have yet (``opens`` and more)."""
    refuses: Callable[[Any, EventData], str | None] = lambda _view, _data: None
    """Why the subject as it stands cannot take an event its lifecycle allows (a delivery
    reported for a mine): refused ``invalid_transition`` like an impossible step."""


FAMILIES: dict[str, Family] = {
    PROJECTS: Family(
        "projects", PROJECTS, ProjectView, projects.apply, projects.party,
        opens=(ProjectRegistered,), starts=(ProjectRegistered,), refuses=projects.refusal,
    ),
    APPROVALS: Family(
        "approvals", APPROVALS, ApprovalView, approvals.apply, approvals.party,
        opens=(LicenceApplicationReceived,),
        starts=(LicenceApplicationReceived, EnvironmentalApprovalFiled, ExportApprovalDecided),
    ),
    SHIPMENTS: Family(
        "shipments", SHIPMENTS, ShipmentView, shipments.apply, shipments.party,
        opens=(ShipmentPlanned,), starts=(ShipmentPlanned,), refuses=shipments.refusal,
    ),
}
"""Logical topic (catalogue name) → its family."""

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES.values()}
