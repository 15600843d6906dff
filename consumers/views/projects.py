"""The projects view: each project's stage, operator, joint venture, titles and latest reports."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from consumers.views.facts import Fact
from consumers.views.models import ProductionSummary, ProjectView, SafetySummary, WorkforceSummary
from schemas.base import EventData
from schemas.events.corrections import ProjectCorrected
from schemas.events.projects import (
    MilestoneReached,
    OwnershipChanged,
    ProjectEvent,
    ProjectRegistered,
    ProjectStageChanged,
)
from schemas.events.projects_reports import (
    HSEIncidentReported,
    InvestmentDisbursed,
    ProductionReported,
    WorkforceReported,
)
from schemas.identifiers import province_of_project


def party(view: ProjectView) -> str:
    return view.operator_uscc


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
        "registered_at": fact.time,
    }


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
