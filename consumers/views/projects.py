"""The projects view: each project's stage, operator, joint venture, titles and latest reports."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from consumers.views.facts import Fact
from consumers.views.models import (
    Intake,
    ProductionSummary,
    ProjectView,
    SafetySummary,
    Tally,
    WorkforceSummary,
)
from schemas.base import EventData
from schemas.events.corrections import ProjectCorrected
from schemas.events.projects import (
    MilestoneReached,
    OwnershipChanged,
    ProjectEvent,
    ProjectKind,
    ProjectRegistered,
    ProjectStageChanged,
)
from schemas.events.projects_reports import (
    HSEIncidentReported,
    InvestmentDisbursed,
    OfftakeDelivered,
    ProductionReported,
    WorkforceReported,
)
from schemas.identifiers import province_of_project


def party(view: ProjectView) -> str:
    return view.operator_uscc


def row(view: ProjectView) -> dict[str, object]:
    """The stored columns lists filter on."""
    return {"status": view.stage, "province": view.province, "kind": view.kind}


def _registered(data: ProjectRegistered, fact: Fact) -> dict[str, Any]:
    return {
        "names": data.names,
        "province": data.province,
        "district": data.district,
        "minerals": data.minerals,
        "stage": data.stage,
        "operator_name": data.operator_name,
        "joint_venture": data.joint_venture,
        "titles": data.related_titles,
        "cpec": data.cpec,
        "kind": data.kind,
        "inputs": data.inputs,
        "outputs": data.outputs,
        "capacity": data.capacity,
        "registered_at": fact.time,
    }


def refusal(view: ProjectView | None, data: EventData) -> str | None:
    """Why the project as it stands cannot take ``data``, beyond its stage's lifecycle: a
    delivery reported by a mine, or of a product the plant did not declare as an input."""
    if not isinstance(data, OfftakeDelivered) or view is None:
        return None
    step = "project.offtake.delivered"
    if view.kind is ProjectKind.MINE:
        return (f"{step}: {view.project_id} is registered as a mine, and a mine takes no "
                "inputs: deliveries are reported by the receiving plant")
    if data.product not in view.inputs:
        declared = ", ".join(p.value for p in view.inputs)
        return (f"{step}: {view.project_id} ({view.kind.value}) does not take "
                f"{data.product.value}; its inputs: {declared}")
    return None


def _added(tally: Tally | None, data: OfftakeDelivered) -> dict[str, Any]:
    """``tally`` with one more delivery (its fields, to build a Tally or an Intake)."""
    before = tally or Tally()
    day = data.delivered_on
    return {
        "wmt": before.wmt + data.quantity.wmt, "dmt": before.dmt + data.quantity.dmt,
        "deliveries": before.deliveries + 1,
        "first_on": day if before.first_on is None else min(before.first_on, day),
        "last_on": day if before.last_on is None else max(before.last_on, day),
    }


def _delivered(view: ProjectView, data: OfftakeDelivered) -> dict[str, Any]:
    received = dict(view.received)
    received[data.product] = Tally(**_added(received.get(data.product), data))
    key = (data.supplier_project_id, data.supplier_uscc, data.product)
    intakes = {(i.supplier_project_id, i.supplier_uscc, i.product): i
               for i in view.received_from}
    intakes[key] = Intake(supplier_project_id=data.supplier_project_id,
                          supplier_uscc=data.supplier_uscc, product=data.product,
                          **_added(intakes.get(key), data))
    return {"received": dict(sorted(received.items())),
            "received_from": tuple(intakes[k] for k in sorted(intakes))}


def _ownership(data: OwnershipChanged) -> dict[str, Any]:
    changes: dict[str, Any] = {"joint_venture": data.joint_venture}
    if data.new_operator_uscc is not None:
        changes["operator_uscc"] = data.new_operator_uscc
        changes["operator_name"] = data.new_operator_name
    return changes


def _production(view: ProjectView, data: ProductionReported, fact: Fact) -> dict[str, Any]:
    latest = view.latest_production
    if latest is not None and latest.period > data.period:
        return {}  # a late report of an earlier month does not displace the latest one
    return {"latest_production": ProductionSummary(
        period=data.period, ore_mined_t=data.ore_mined_t, ore_milled_t=data.ore_milled_t,
        head_grades=data.head_grades, outputs=data.outputs, event_id=fact.event_id,
    )}


def _workforce(view: ProjectView, data: WorkforceReported) -> dict[str, Any]:
    latest = view.latest_workforce
    if latest is not None and latest.period > data.period:
        return {}
    return {"latest_workforce": WorkforceSummary(
        period=data.period, pakistani=data.pakistani, chinese=data.chinese,
        local_hires=data.local_hires,
    )}


def _investment(view: ProjectView, data: InvestmentDisbursed) -> dict[str, Any]:
    totals = dict(view.investment)
    currency = data.amount.currency
    totals[currency] = totals.get(currency, Decimal(0)) + data.amount.amount
    return {"investment": totals}


def _incident(view: ProjectView, data: HSEIncidentReported) -> dict[str, Any]:
    safety = view.safety
    last = safety.last_incident_at
    return {"safety": SafetySummary(
        incidents=safety.incidents + 1,
        fatalities=safety.fatalities + data.fatalities,
        injuries=safety.injuries + data.injuries,
        last_incident_at=data.occurred_at if last is None else max(last, data.occurred_at),
    )}


Handler = Callable[[ProjectView, Any, Fact], dict[str, Any]]

HANDLERS: dict[type[EventData], Handler] = {
    ProjectRegistered: lambda _, data, fact: _registered(data, fact),
    ProjectStageChanged: lambda _, data, __: {"stage": data.to_stage,
                                              "stage_since": data.effective_on},
    MilestoneReached: lambda view, data, _: {
        "milestones": {**view.milestones, data.milestone.value: data.reached_on}},
    OwnershipChanged: lambda _, data, __: _ownership(data),
    ProductionReported: _production,
    WorkforceReported: lambda view, data, _: _workforce(view, data),
    InvestmentDisbursed: lambda view, data, _: _investment(view, data),
    HSEIncidentReported: lambda view, data, _: _incident(view, data),
    OfftakeDelivered: lambda view, data, _: _delivered(view, data),
}
"""Event type → the changes it makes to its project's view."""


def apply(view: ProjectView | None, fact: Fact) -> ProjectView:
    """The project after ``fact``. Total: an event about an unknown project starts its view."""
    data = fact.data
    assert isinstance(data, ProjectEvent)
    assert not isinstance(data, ProjectCorrected), "corrections are applied by re-folding"
    if view is None:
        view = ProjectView(
            project_id=data.project_id, operator_uscc=data.operator_uscc,
            province=province_of_project(data.project_id), updated_at=fact.time,
        )
    handler = HANDLERS.get(type(data))
    changes = handler(view, data, fact) if handler else {}
    changes.update(updated_at=fact.time, events=view.events + 1)
    return view.model_copy(update=changes)
