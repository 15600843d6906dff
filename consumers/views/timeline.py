"""The per-subject timeline: every accepted event in order, with a one-line summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumers.views.facts import Fact
from consumers.views.models import TimelineEntry
from schemas.base import EventData
from schemas.envelope import encode_value
from schemas.events.approvals_applications import (
    DeficiencyNotified,
    LicenceApplicationReceived,
    LicenceGranted,
    LicenceRefused,
)
from schemas.events.approvals_licences import (
    LicenceConverted,
    LicenceRenewed,
    ShowCauseIssued,
    WorkCommenced,
)
from schemas.events.approvals_other import (
    EnvironmentalApprovalDecided,
    ExportApprovalDecided,
    RoyaltyAssessed,
)
from schemas.events.corrections import Correction
from schemas.events.projects import MilestoneReached, ProjectStageChanged
from schemas.events.projects_reports import (
    HSEIncidentReported,
    OfftakeDelivered,
    ProductionReported,
)
from schemas.events.shipments_border import (
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
    VesselLoaded,
)


def _words(value: str) -> str:
    return value.replace("_", " ")


DETAILS: dict[type[EventData], Callable[[Any], str]] = {
    LicenceApplicationReceived: lambda d: f"{d.title_type.value} in {d.district}, "
                                          f"{d.area_km2} km²",
    DeficiencyNotified: lambda d: f"{len(d.items)} item(s), respond by {d.respond_by}",
    LicenceGranted: lambda d: f"{d.term_years} years, expires {d.expires_on}",
    LicenceRefused: lambda d: d.reasons[0],
    WorkCommenced: lambda d: f"on {d.commenced_on}",
    LicenceRenewed: lambda d: f"expires {d.expires_on}",
    LicenceConverted: lambda d: f"now {d.new_title_number}",
    ShowCauseIssued: lambda d: f"reply by {d.reply_by}",
    EnvironmentalApprovalDecided: lambda d: _words(d.decision.value),
    ExportApprovalDecided: lambda d: _words(d.status.value),
    RoyaltyAssessed: lambda d: f"{d.amount.amount} {d.amount.currency.value} due {d.due_on}",
    ProjectStageChanged: lambda d: f"{d.from_stage.value} → {d.to_stage.value}",
    MilestoneReached: lambda d: _words(d.milestone.value),
    ProductionReported: lambda d: f"{d.period}: {d.ore_milled_t} t milled",
    HSEIncidentReported: lambda d: _words(d.category.value),
    OfftakeDelivered: lambda d: f"{d.quantity.dmt} dmt {_words(d.product.value)} from "
                                f"{d.supplier_project_id} on {d.delivered_on}",
    CustomsDeclarationFiled: lambda d: "relies on "
                                       + (", ".join(d.export_approvals) or "no export approval"),
    CustomsDeclarationAmended: lambda d: "now relies on " + ", ".join(d.export_approvals),
    CustomsHeld: lambda d: _words(d.reason.value),
    VesselLoaded: lambda d: f"{d.vessel_name} for {d.discharge_port}",
}
"""Event type → what is worth saying about it in one line, beside its type."""


def summary(data: EventData) -> str:
    """``licence granted (3 years, expires 2029-01-31)``: the type in words, plus what matters."""
    words = data.TYPE.removeprefix("pk.emining.").split(".", 1)[-1].replace(".", " ")
    if isinstance(data, Correction):
        detail = f"{_words(data.reason.value)}: {data.explanation}"
    else:
        detail = DETAILS.get(type(data), lambda _: "")(data)
    return f"{words} ({detail})" if detail else words


def entry(
    fact: Fact, *, family: str, position: int, data_json: dict[str, Any], partition: int,
    offset: int,
) -> TimelineEntry:
    """The timeline entry of a newly accepted event (its effective data is the signed data)."""
    signed = encode_value(data_json).decode()
    corrects = fact.data.corrects_event_id if isinstance(fact.data, Correction) else None
    return TimelineEntry(
        subject=fact.data.subject, position=position, family=family, event_id=fact.event_id,
        source=fact.source, type=fact.type, time=fact.time, summary=summary(fact.data),
        data=signed, effective=signed, corrects=corrects, partition=partition, offset=offset,
    )


