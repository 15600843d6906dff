"""Every event class of the shared topics in one explicit table, by CloudEvents type and by topic.

No per-topic discriminated union is needed: in CloudEvents binary mode the type travels in the
``ce_type`` header, beside the JSON data, so a reader picks the class with
``BY_CE_TYPE[header]`` (or ``schemas.catalogue``, which adds upcasting) and validates the value
with it. The data itself carries no type tag to discriminate on, by design: it stays exactly the
event's fields, as signed.
"""

from __future__ import annotations

from typing import Any

from schemas.base import EventData
from schemas.errors import RecordError
from schemas.events import approvals_applications as applications
from schemas.events import approvals_licences as licences
from schemas.events import approvals_other as other
from schemas.events import corrections, projects, projects_reports, shipments, shipments_border
from schemas.topics import APPROVALS, PROJECTS, SHARED_TOPICS, SHIPMENTS

ALL_EVENTS: tuple[type[EventData], ...] = (
    projects.ProjectRegistered,
    projects.ProjectStageChanged,
    projects.MilestoneReached,
    projects_reports.ProductionReported,
    projects_reports.InvestmentDisbursed,
    projects_reports.WorkforceReported,
    projects_reports.HSEIncidentReported,
    projects_reports.OfftakeDelivered,
    projects.OwnershipChanged,
    corrections.ProjectCorrected,
    applications.LicenceApplicationReceived,
    applications.ApplicationAcknowledged,
    applications.DeficiencyNotified,
    applications.ApplicationResubmitted,
    applications.ApplicationWithdrawn,
    applications.LicenceGranted,
    applications.LicenceRefused,
    licences.WorkCommenced,
    licences.LicenceAmended,
    licences.LicenceConverted,
    licences.RenewalApplied,
    licences.LicenceRenewed,
    licences.RenewalRefused,
    licences.LicenceAssigned,
    licences.ShowCauseIssued,
    licences.LicenceSuspended,
    licences.LicenceCancelled,
    licences.LicenceRestored,
    licences.LicenceSurrendered,
    licences.LicenceExpired,
    other.EnvironmentalApprovalFiled,
    other.EnvironmentalApprovalDecided,
    other.ExportApprovalDecided,
    other.RoyaltyAssessed,
    other.RoyaltyPaid,
    corrections.ApprovalCorrected,
    shipments.ShipmentPlanned,
    shipments.LotAssayed,
    shipments.LotLoaded,
    shipments.ShipmentDeparted,
    shipments_border.CustomsDeclarationFiled,
    shipments_border.CustomsDeclarationAmended,
    shipments_border.CustomsCleared,
    shipments_border.CustomsHeld,
    shipments_border.BorderCrossed,
    shipments_border.VesselLoaded,
    shipments.ShipmentArrived,
    shipments.FinalInvoiced,
    corrections.ShipmentCorrected,
)
"""Event classes of the shared topics, in lifecycle order within each topic."""

BY_CE_TYPE: dict[str, type[EventData]] = {cls.ce_type(): cls for cls in ALL_EVENTS}
"""``ce_type`` header value (``pk.emining.approval.licence.granted.v1``) → class."""

BY_TOPIC: dict[str, tuple[type[EventData], ...]] = {
    topic: tuple(cls for cls in ALL_EVENTS if topic == cls.TOPIC) for topic in SHARED_TOPICS
}
"""Topic → the classes that may appear on it."""

CORRECTIONS: dict[str, type[corrections.Correction]] = {
    PROJECTS: corrections.ProjectCorrected,
    APPROVALS: corrections.ApprovalCorrected,
    SHIPMENTS: corrections.ShipmentCorrected,
}
"""Topic → its correction type."""

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
