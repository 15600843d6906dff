"""Deadline rules: when to look at a subject again (from its view), and what to say then.

``schedule`` derives a subject's deadlines from its current view alone, so the stage simply
replaces the subject's pending deadlines after each batch. ``fire`` re-derives them from the view
as it is when the clock reaches one: a deadline the view no longer implies (the application was
decided, the licence renewed) says nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context
from consumers.alerts.deadline_notices import NOTICES
from consumers.alerts.model import Deadline, Notice
from consumers.views.facts import day_start
from consumers.views.models import (
    ApprovalKind,
    ApprovalStatus,
    ApprovalView,
    ShipmentStatus,
    ShipmentView,
    ViewDoc,
)
from consumers.views.standing import local_day, standard_due_on
from schemas.alerts import AlertRule
from schemas.events.shipments import ExitPoint
from schemas.standards import Standards

S = ApprovalStatus
IN_FORCE = frozenset({S.GRANTED, S.SHOW_CAUSE, S.SUSPENDED})
"""A title that will expire unless renewed (and whose holder has not yet applied to renew)."""
AWAITING_AUTHORITY = frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.RESUBMITTED})


def standards_of(config: AlertConfig) -> Standards:
    """The one standards table with the deployment's overrides of title types' days."""
    return Standards().with_overrides(
        {str(kind): days for kind, days in config.service_standard_days.items()})


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _application(view: ApprovalView, config: AlertConfig) -> list[Deadline]:
    """Past the service standard: the day after the view's ``standard_due_on`` (the date the
    authority stated when acknowledging it, else receipt plus the title type's days in the
    configured table, days spent waiting on the applicant not counted), the same rule the views
    store and the audit reports."""
    if view.status not in AWAITING_AUTHORITY or view.received_at is None:
        return []
    stated = view.due.get("decision_due_on") is not None
    if not stated and (view.title_type is None
                       or view.title_type not in config.service_standard_days):
        return []
    standards = standards_of(config)
    due = standard_due_on(view, standards)
    if due is None:
        return []
    period = None if stated or view.title_type is None else standards.period(view.title_type)
    standard = period if period is not None else (due - local_day(view.received_at)).days
    return [Deadline(AlertRule.APPLICATION_OVERDUE, view.ref, day_start(due + timedelta(days=1)),
                     due, f"application_overdue:{view.ref}:{due}", {"standard": str(standard)})]


def _title(view: ApprovalView, config: AlertConfig) -> list[Deadline]:
    found = _application(view, config)
    respond_by = view.due.get("respond_by")
    if view.status is S.DEFICIENT and respond_by is not None:
        at = day_start(respond_by - timedelta(days=config.deficiency_reminder_days))
        if view.state_since is None or at > view.state_since:
            found.append(Deadline(AlertRule.DEFICIENCY_DUE_SOON, view.ref, at, respond_by,
                                  f"deficiency_due_soon:{view.ref}:{respond_by}"))
    commence = view.due.get("work_commencement_due")
    if view.status is S.GRANTED and commence is not None and view.work_commenced_on is None:
        found.append(Deadline(AlertRule.WORK_NOT_COMMENCED, view.ref,
                              day_start(commence + timedelta(days=1)), commence,
                              f"work_not_commenced:{view.ref}:{commence}"))
    if view.status in IN_FORCE and view.expires_on is not None:
        found += [Deadline(AlertRule.LICENCE_EXPIRING, view.ref,
                           day_start(view.expires_on - timedelta(days=days)), view.expires_on,
                           f"licence_expiring:{view.ref}:{view.expires_on}:{days}",
                           {"days": str(days)})
                  for days in sorted(set(config.expiry_reminder_days), reverse=True)]
    return found


def _approval(view: ApprovalView, config: AlertConfig) -> list[Deadline]:
    if view.kind is ApprovalKind.TITLE:
        return _title(view, config)
    deemed: date | None = view.due.get("deemed_approval_on")
    if view.kind is ApprovalKind.ENVIRONMENTAL and view.status is S.FILED and deemed:
        return [Deadline(AlertRule.DEEMED_APPROVAL, view.ref, day_start(deemed), deemed,
                         f"deemed_approval:{view.ref}:{deemed}")]
    return []


SHIPMENT_RULES = frozenset({AlertRule.BORDER_OVERDUE, AlertRule.EXPORT_APPROVAL_MISSING})
"""Deadline rules about a shipment (the others are about an approval)."""


def _shipment(view: ShipmentView, config: AlertConfig) -> list[Deadline]:
    if (view.status is ShipmentStatus.PLANNED and view.planned_departure_on is not None
            and not view.approvals):
        departure = view.planned_departure_on
        at = day_start(departure - timedelta(days=config.export_approval_notice_days))
        return [Deadline(AlertRule.EXPORT_APPROVAL_MISSING, view.shipment_id, at, departure,
                         f"export_approval_missing:{view.shipment_id}:{departure}")]
    if (view.exit_point is ExitPoint.SOST_KHUNJERAB and view.status is ShipmentStatus.CLEARED
            and view.cleared_at is not None):
        at = view.cleared_at + timedelta(hours=config.border_crossing_hours)
        return [Deadline(AlertRule.BORDER_OVERDUE, view.shipment_id, at, None,
                         f"border_overdue:{view.shipment_id}:{_stamp(view.cleared_at)}",
                         {"hours": str(config.border_crossing_hours)})]
    return []


def schedule(view: ViewDoc | None, config: AlertConfig) -> list[Deadline]:
    """Every deadline the subject's current view implies (none for projects)."""
    if isinstance(view, ApprovalView):
        return _approval(view, config)
    if isinstance(view, ShipmentView):
        return _shipment(view, config)
    return []


def view_of(deadline: Deadline, ctx: Context) -> ApprovalView | ShipmentView | None:
    if deadline.rule in SHIPMENT_RULES:
        return ctx.views.shipments.get(deadline.subject)
    return ctx.views.approvals.get(deadline.subject)


def fire(deadline: Deadline, ctx: Context) -> list[Notice]:
    """The notices of a deadline the clock reached, if the subject's view still implies it."""
    view = view_of(deadline, ctx)
    current = {d.key: d for d in schedule(view, ctx.config)}
    if view is None or deadline.key not in current or deadline.fires_at > ctx.now:
        return []
    superseded = [d for d in current.values() if d.rule is deadline.rule
                  and d.fires_at <= ctx.now and d.fires_at > deadline.fires_at]
    if superseded:  # e.g. the 30-day reminder is due too: the 90-day one is old news
        return []
    return NOTICES[deadline.rule](deadline, view, ctx)
