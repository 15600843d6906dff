"""Mineral titles in the approvals view: application, decision, and the life of a granted title."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from consumers.views.facts import Fact
from consumers.views.lifecycle import decided, transition, without
from consumers.views.models import ApprovalStatus as S
from consumers.views.models import ApprovalView
from schemas.base import EventData
from schemas.events.approvals_applications import (
    ApplicationAcknowledged,
    ApplicationResubmitted,
    ApplicationWithdrawn,
    DeficiencyNotified,
    LicenceApplicationReceived,
    LicenceGranted,
    LicenceRefused,
)
from schemas.events.approvals_licences import (
    LicenceAmended,
    LicenceAssigned,
    LicenceCancelled,
    LicenceConverted,
    LicenceExpired,
    LicenceRenewed,
    LicenceRestored,
    LicenceSurrendered,
    LicenceSuspended,
    RenewalApplied,
    RenewalRefused,
    ShowCauseIssued,
    WorkCommenced,
)
from schemas.events.approvals_other import add_months

WORK_COMMENCEMENT_MONTHS = 6
"""Work on the ground must begin within six months of the grant."""


def _application(
    view: ApprovalView, data: LicenceApplicationReceived, fact: Fact
) -> dict[str, Any]:
    return {
        **transition(view, S.RECEIVED, fact),
        "title_type": data.title_type, "province": data.province, "minerals": data.minerals,
        "area_km2": data.area_km2, "authority": data.licensing_authority,
        "project_id": data.project_id, "received_at": data.received_at,
        "application_ref": data.application_ref,
    }


def _commenced(view: ApprovalView, data: WorkCommenced) -> dict[str, Any]:
    """The obligation is met: no commencement due any more; the first date reported stays."""
    return {"work_commenced_on": view.work_commenced_on or data.commenced_on,
            "due": without(view.due, "work_commencement_due")}


def _granted(view: ApprovalView, data: LicenceGranted, fact: Fact) -> dict[str, Any]:
    return {
        **decided(view, S.GRANTED, fact),
        "project_id": data.project_id or view.project_id,
        "granted_on": data.granted_on, "expires_on": data.expires_on,
        "minerals": data.minerals, "area_km2": data.area_km2, "conditions": data.conditions,
        "reasons": (), "deficiency_items": (),
        "due": {
            "work_commencement_due": add_months(data.granted_on, WORK_COMMENCEMENT_MONTHS),
            "expires_on": data.expires_on,
        },
    }


def _amended(data: LicenceAmended) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if data.area_km2 is not None:
        changes["area_km2"] = data.area_km2
    if data.minerals is not None:
        changes["minerals"] = data.minerals
    if data.conditions is not None:
        changes["conditions"] = data.conditions
    return changes


def _restored(view: ApprovalView, fact: Fact) -> dict[str, Any]:
    due = without(view.due, "appealable_until", "suspended_until", "reply_by")
    if view.expires_on is not None:
        due["expires_on"] = view.expires_on
    return {**transition(view, S.GRANTED, fact), "due": due, "reasons": ()}


def _surrendered(view: ApprovalView, data: LicenceSurrendered, fact: Fact) -> dict[str, Any]:
    if data.surrendered_area_km2 is None or view.area_km2 is None:
        return {**transition(view, S.SURRENDERED, fact), "due": {}}
    return {"area_km2": max(view.area_km2 - data.surrendered_area_km2, Decimal(0))}


def _acknowledged(view: ApprovalView, data: ApplicationAcknowledged, fact: Fact) -> dict[str, Any]:
    due = dict(view.due)
    if data.decision_due_on is not None:
        due["decision_due_on"] = data.decision_due_on
    return {**transition(view, S.ACKNOWLEDGED, fact), "due": due}


def _suspended(view: ApprovalView, data: LicenceSuspended, fact: Fact) -> dict[str, Any]:
    due = without(view.due, "reply_by")
    if data.until is not None:
        due["suspended_until"] = data.until
    return {**transition(view, S.SUSPENDED, fact), "reasons": data.reasons, "due": due}


def _appealable(data: LicenceRefused | LicenceCancelled) -> dict[str, Any]:
    return {"appealable_until": data.appealable_until} if data.appealable_until else {}


Handler = Callable[[ApprovalView, Any, Fact], dict[str, Any]]

HANDLERS: dict[type[EventData], Handler] = {
    LicenceApplicationReceived: _application,
    ApplicationAcknowledged: _acknowledged,
    DeficiencyNotified: lambda view, data, fact: {
        **transition(view, S.DEFICIENT, fact), "due": {**view.due, "respond_by": data.respond_by},
        "deficiency_items": data.items},
    ApplicationResubmitted: lambda view, _, fact: {
        **transition(view, S.RESUBMITTED, fact), "due": without(view.due, "respond_by"),
        "deficiency_items": ()},
    ApplicationWithdrawn: lambda view, _, fact: {
        **transition(view, S.WITHDRAWN, fact), "due": {}},
    LicenceGranted: _granted,
    LicenceRefused: lambda view, data, fact: {
        **decided(view, S.REFUSED, fact), "reasons": data.reasons, "due": _appealable(data)},
    WorkCommenced: lambda view, data, _: _commenced(view, data),
    LicenceAmended: lambda _, data, __: _amended(data),
    LicenceConverted: lambda view, data, fact: {
        **transition(view, S.CONVERTED, fact), "converted_to": data.new_title_number, "due": {}},
    RenewalApplied: lambda view, _, fact: transition(view, S.RENEWAL_APPLIED, fact),
    LicenceRenewed: lambda view, data, fact: {
        **transition(view, S.GRANTED, fact), "expires_on": data.expires_on,
        "due": {**view.due, "expires_on": data.expires_on}},
    RenewalRefused: lambda view, data, fact: {
        **transition(view, S.RENEWAL_REFUSED, fact), "reasons": data.reasons},
    LicenceAssigned: lambda view, data, _: {
        "holder_uscc": data.assignee_uscc,
        "previous_holders": (*view.previous_holders, view.holder_uscc)},
    ShowCauseIssued: lambda view, data, fact: {
        **transition(view, S.SHOW_CAUSE, fact), "reasons": data.grounds,
        "due": {**view.due, "reply_by": data.reply_by}},
    LicenceSuspended: _suspended,
    LicenceCancelled: lambda view, data, fact: {
        **transition(view, S.CANCELLED, fact), "reasons": data.reasons, "due": _appealable(data)},
    LicenceRestored: lambda view, _, fact: _restored(view, fact),
    LicenceSurrendered: _surrendered,
    LicenceExpired: lambda view, _, fact: {**transition(view, S.EXPIRED, fact), "due": {}},
}
"""Title event type → the changes it makes to the title's view (royalties are handled beside)."""
