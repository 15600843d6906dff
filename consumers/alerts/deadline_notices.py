"""What each deadline says, and to whom, once the clock reaches it and the view still implies it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from consumers.alerts.context import Context
from consumers.alerts.i18n import Day, Ident, Message, Moment, Number, Term
from consumers.alerts.model import Builder, Deadline, Notice, fan_out
from consumers.views.facts import day_start
from consumers.views.models import (
    ApprovalKind,
    ApprovalStatus,
    ApprovalView,
    ProjectView,
    ShipmentView,
)
from schemas.alerts import AlertCause, AlertRule, CauseKind, Severity
from schemas.common import Function
from schemas.events.approvals_other import DEEMED_APPROVAL_MONTHS
from schemas.events.projects import ProjectStage
from schemas.events.shipments_border import PAKISTAN_TIME

WORK_EVIDENCE = frozenset({ProjectStage.CONSTRUCTION, ProjectStage.PRODUCTION})
"""A project linked to the title at one of these stages shows work has commenced."""


def _cause(deadline: Deadline) -> AlertCause:
    return AlertCause(kind=CauseKind.DEADLINE, key=deadline.key, subject=deadline.subject)


def _today(ctx: Context) -> date:
    return ctx.now.astimezone(PAKISTAN_TIME).date()


def _firm(ctx: Context, uscc: str) -> str | None:
    party = ctx.directory.firm(uscc)
    return party.org if party else None


def _what(view: ApprovalView) -> Term:
    return Term("title_type", view.title_type.value if view.title_type else "EL")


def application_overdue(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ApprovalView)
    assert view.received_at is not None
    assert deadline.due_on is not None
    due_on = deadline.due_on
    message = Message("application_overdue", {
        "ref": Ident(view.ref), "applicant": ctx.directory.firm_name(view.holder_uscc),
        "what": _what(view), "received": Day(view.received_at.astimezone(PAKISTAN_TIME).date()),
        "standard": Number(int(deadline.params["standard"])),
        "overdue": Number((_today(ctx) - due_on).days),
    })
    build = Builder(deadline.rule, view.ref, _cause(deadline), Severity.WARNING, message,
                    due_on, {"standard_days": deadline.params["standard"]})
    return fan_out(ctx.directory.registered(
        view.authority, *ctx.directory.serving(Function.INVESTMENT_FACILITATION)), build)


def deficiency_due_soon(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ApprovalView)
    assert deadline.due_on is not None
    if ctx.now >= day_start(deadline.due_on + timedelta(days=1)):
        return []  # the respond-by day is over: a reminder would come too late
    message = Message("deficiency_due_soon", {
        "ref": Ident(view.ref), "respond_by": Day(deadline.due_on),
        "days": Number((deadline.due_on - _today(ctx)).days),
    })
    build = Builder(deadline.rule, view.ref, _cause(deadline), Severity.WARNING, message,
                    deadline.due_on)
    return fan_out(ctx.directory.registered(_firm(ctx, view.holder_uscc)), build)


def deemed_approval(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ApprovalView)
    assert deadline.due_on is not None
    message = Message("deemed_approval", {
        "assessment": Term("approval_kind", view.assessment or view.ref[:3]),
        "ref": Ident(view.ref), "proponent": ctx.directory.firm_name(view.holder_uscc),
        "epa": ctx.directory.org_name(view.authority),
        "months": Number(DEEMED_APPROVAL_MONTHS), "deemed": Day(deadline.due_on),
    })
    build = Builder(deadline.rule, view.ref, _cause(deadline), Severity.WARNING, message,
                    deadline.due_on, {"deemed_approved_on": deadline.due_on.isoformat()})
    return fan_out(ctx.directory.registered(view.authority, _firm(ctx, view.holder_uscc)), build)


def licence_expiring(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ApprovalView)
    assert deadline.due_on is not None
    if ctx.now >= day_start(deadline.due_on):
        return []  # expired already: the expiry itself is the news now
    days = int(deadline.params["days"])
    severity = (Severity.CRITICAL if days <= 7 else  # noqa: PLR2004 - the last reminder
                Severity.WARNING if days <= 30 else Severity.INFO)  # noqa: PLR2004
    message = Message("licence_expiring", {
        "what": _what(view), "ref": Ident(view.ref), "expires": Day(deadline.due_on),
        "days": Number((deadline.due_on - _today(ctx)).days),
    })
    build = Builder(deadline.rule, view.ref, _cause(deadline), severity, message,
                    deadline.due_on, {"reminder_days": str(days)})
    return fan_out(ctx.directory.registered(_firm(ctx, view.holder_uscc)), build)


def _commenced(project: ProjectView | None) -> bool:
    if project is None:
        return False
    return project.stage in WORK_EVIDENCE or project.latest_production is not None


def work_not_commenced(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ApprovalView)
    assert deadline.due_on is not None
    if view.work_commenced_on is not None:
        return []  # the holder or the authority reported the commencement
    if view.project_id and _commenced(ctx.views.projects.get(view.project_id)):
        return []
    message = Message("work_not_commenced", {
        "what": _what(view), "ref": Ident(view.ref),
        "holder": ctx.directory.firm_name(view.holder_uscc),
        "granted": Day(view.granted_on or deadline.due_on), "due": Day(deadline.due_on),
    })
    build = Builder(deadline.rule, view.ref, _cause(deadline), Severity.WARNING, message,
                    deadline.due_on)
    return fan_out(ctx.directory.registered(_firm(ctx, view.holder_uscc), view.authority), build)


def border_overdue(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    assert isinstance(view, ShipmentView)
    assert view.cleared_at is not None
    message = Message("border_overdue", {
        "shipment": Ident(view.shipment_id),
        "exporter": ctx.directory.firm_name(view.exporter_uscc),
        "cleared": Moment(view.cleared_at), "hours": Number(int(deadline.params["hours"])),
    })
    build = Builder(deadline.rule, view.shipment_id, _cause(deadline), Severity.WARNING,
                    message, None, {"cleared_at": view.cleared_at.isoformat()})
    return fan_out(ctx.directory.registered(_firm(ctx, view.exporter_uscc),
                                            *ctx.directory.serving(Function.BORDER_POST)), build)


LPCO_VALID = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.AMENDED})
LPCO_PENDING = frozenset({ApprovalStatus.SUBMITTED, ApprovalStatus.DOCUMENTS_CALLED,
                          ApprovalStatus.INSPECTION_CALLED})


def _for_shipment(lpco: ApprovalView, shipment: ShipmentView) -> bool:
    """An export approval of the shipment's exporter that names it, or names no shipment and is
    for the same goods (HS code)."""
    if lpco.kind is not ApprovalKind.EXPORT or lpco.holder_uscc != shipment.exporter_uscc:
        return False
    if lpco.shipment_id is not None:
        return lpco.shipment_id == shipment.shipment_id
    return lpco.hs_code is not None and lpco.hs_code == shipment.hs_code


def export_approval_missing(deadline: Deadline, view: Any, ctx: Context) -> list[Notice]:
    """Warned before the planned departure when no approved, unexpired LPCO covers the shipment
    (``ctx.views.approvals`` holds the exporter's LPCOs); silent once one does, and once the
    planned day is over (a stale plan, e.g. loaded with history, is not news)."""
    assert isinstance(view, ShipmentView)
    assert deadline.due_on is not None
    if _today(ctx) > deadline.due_on:
        return []
    mine = [a for a in ctx.views.approvals.values() if _for_shipment(a, view)]
    if any(a.status in LPCO_VALID and (a.expires_on is None or a.expires_on >= deadline.due_on)
           for a in mine):
        return []
    message = Message("export_approval_missing", {
        "shipment": Ident(view.shipment_id),
        "exporter": ctx.directory.firm_name(view.exporter_uscc),
        "departure": Day(deadline.due_on),
        "pending": Number(sum(a.status in LPCO_PENDING for a in mine)),
    })
    build = Builder(deadline.rule, view.shipment_id, _cause(deadline), Severity.WARNING,
                    message, deadline.due_on, {"planned_departure_on": deadline.due_on.isoformat()})
    return fan_out(ctx.directory.registered(_firm(ctx, view.exporter_uscc)), build)


NOTICES: Mapping[AlertRule, Callable[[Deadline, Any, Context], list[Notice]]] = {
    AlertRule.APPLICATION_OVERDUE: application_overdue,
    AlertRule.DEFICIENCY_DUE_SOON: deficiency_due_soon,
    AlertRule.DEEMED_APPROVAL: deemed_approval,
    AlertRule.LICENCE_EXPIRING: licence_expiring,
    AlertRule.WORK_NOT_COMMENCED: work_not_commenced,
    AlertRule.BORDER_OVERDUE: border_overdue,
    AlertRule.EXPORT_APPROVAL_MISSING: export_approval_missing,
}
"""Deadline rule → what it says."""
