"""The approvals view: titles, environmental approvals and export LPCOs, with status and dues."""

from __future__ import annotations

from typing import Any

from consumers.views.approvals_titles import HANDLERS as TITLE_HANDLERS
from consumers.views.facts import Fact, speaker
from consumers.views.lifecycle import decided, moment_of, next_due, transition
from consumers.views.models import ApprovalKind, ApprovalView, Royalty
from consumers.views.models import ApprovalStatus as S
from consumers.views.standing import standard_due_on
from schemas.events.approvals_applications import TitleEvent
from schemas.events.approvals_other import (
    EnvironmentalApprovalDecided,
    EnvironmentalApprovalFiled,
    EnvironmentalDecision,
    ExportApprovalDecided,
    LpcoStatus,
    RoyaltyAssessed,
    RoyaltyPaid,
)
from schemas.events.corrections import Correction
from schemas.identifiers import province_of_approval, title_type_of_approval

_ENV_STATUS = {
    EnvironmentalDecision.APPROVED: S.APPROVED,
    EnvironmentalDecision.APPROVED_WITH_CONDITIONS: S.APPROVED_WITH_CONDITIONS,
    EnvironmentalDecision.REJECTED: S.REJECTED,
    EnvironmentalDecision.DEEMED_APPROVED: S.DEEMED_APPROVED,
}
_LPCO_DECISIONS = frozenset({
    LpcoStatus.APPROVED, LpcoStatus.REJECTED, LpcoStatus.AMENDED, LpcoStatus.CANCELLED,
})


def kind_of(ref: str) -> ApprovalKind:
    if ref.startswith(("IEE-", "EIA-")):
        return ApprovalKind.ENVIRONMENTAL
    if ref.startswith("LPCO-"):
        return ApprovalKind.EXPORT
    return ApprovalKind.TITLE


def party(view: ApprovalView) -> str:
    return view.holder_uscc


def row(view: ApprovalView) -> dict[str, object]:
    """The stored columns lists (and the alert rules, the projects' titles) filter on."""
    due = next_due(view)
    return {"status": view.status, "province": view.province, "kind": view.kind,
            "authority": view.authority, "project_id": view.project_id,
            "application_ref": view.application_ref,
            "next_due_on": due.isoformat() if due else None}


def _filed(view: ApprovalView, data: EnvironmentalApprovalFiled, fact: Fact) -> dict[str, Any]:
    due = dict(view.due)
    if data.deemed_approved_on is not None:
        due["deemed_approval_on"] = data.deemed_approved_on
    return {
        **transition(view, S.FILED, fact),
        "assessment": data.assessment.value, "province": data.province, "authority": data.epa,
        "project_id": data.project_id, "received_at": view.received_at or moment_of(fact),
        "due": due,
    }


def _env_decided(
    view: ApprovalView, data: EnvironmentalApprovalDecided, fact: Fact
) -> dict[str, Any]:
    due = {"expires_on": data.valid_until} if data.valid_until else {}
    return {
        **decided(view, _ENV_STATUS[data.decision], fact),
        "conditions": data.conditions, "reasons": data.reasons, "expires_on": data.valid_until,
        "due": due,
    }


def _export(view: ApprovalView, data: ExportApprovalDecided, fact: Fact) -> dict[str, Any]:
    status = S(data.status.value)
    step = decided if data.status in _LPCO_DECISIONS else transition
    changes: dict[str, Any] = {
        **step(view, status, fact),
        "lpco_type": data.lpco_type.value, "province": data.province,
        "authority": data.issuing_agency, "hs_code": data.hs_code,
        "received_at": view.received_at or data.decided_at,
    }
    if data.quantity_t is not None:
        changes["quantity_t"] = data.quantity_t
    if data.shipment_id is not None:
        changes["shipment_id"] = data.shipment_id
    if data.valid_until is not None:
        changes["expires_on"] = data.valid_until
        changes["due"] = {**view.due, "expires_on": data.valid_until}
    if data.status in {LpcoStatus.REJECTED, LpcoStatus.CANCELLED}:
        changes["due"] = {}
    return changes


def _royalty(view: ApprovalView, data: RoyaltyAssessed | RoyaltyPaid) -> dict[str, Any]:
    lines = dict(view.royalties)
    current = lines.get(data.assessment_ref)
    if isinstance(data, RoyaltyAssessed):
        lines[data.assessment_ref] = Royalty(
            period=data.period, mineral=data.mineral, amount=data.amount, due_on=data.due_on,
            paid_on=current.paid_on if current else None,
            challan_number=current.challan_number if current else None,
        )
    else:
        lines[data.assessment_ref] = Royalty(
            amount=data.amount, paid_on=data.paid_on, challan_number=data.challan_number,
        ) if current is None else current.model_copy(
            update={"paid_on": data.paid_on, "challan_number": data.challan_number},
        )
    return {"royalties": lines}


def _changes(view: ApprovalView, fact: Fact) -> dict[str, Any]:
    match fact.data:
        case EnvironmentalApprovalFiled() as data:
            return _filed(view, data, fact)
        case EnvironmentalApprovalDecided() as data:
            return _env_decided(view, data, fact)
        case ExportApprovalDecided() as data:
            return _export(view, data, fact)
        case RoyaltyAssessed() | RoyaltyPaid() as data:
            return _royalty(view, data)
        case TitleEvent() as data if type(data) in TITLE_HANDLERS:
            return TITLE_HANDLERS[type(data)](view, data, fact)
    return {}


def apply(view: ApprovalView | None, fact: Fact) -> ApprovalView:
    """The approval after ``fact``. Total: an event about an unknown file starts its view."""
    data = fact.data
    assert not isinstance(data, Correction), "corrections are applied by re-folding"
    if view is None:
        ref = data.subject
        view = ApprovalView(
            ref=ref, kind=kind_of(ref), holder_uscc=speaker(data),
            province=province_of_approval(ref), title_type=title_type_of_approval(ref),
            updated_at=fact.time,
        )
    changes = _changes(view, fact)
    changes.update(updated_at=fact.time, events=view.events + 1)
    after = view.model_copy(update=changes)
    due = standard_due_on(after)
    return after if due == after.standard_due_on else after.model_copy(
        update={"standard_due_on": due})
