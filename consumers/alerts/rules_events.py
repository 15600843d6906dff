"""Event rules: what an accepted event tells whom, at once (pure functions of fact and context)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from consumers.alerts.context import Context, event_cause
from consumers.alerts.decisions import decision_of
from consumers.alerts.i18n import Day, Ident, Message, Moment, Name, Number, Term, Terms
from consumers.alerts.model import Builder, Notice, fan_out
from consumers.views.facts import Fact
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from schemas.alerts import AlertRule, Severity
from schemas.common import Function
from schemas.envelope import org_of
from schemas.events.approvals_applications import DeficiencyNotified
from schemas.events.projects import ProjectRegistered
from schemas.events.shipments_border import (
    PAKISTAN_TIME,
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
    CustomsHeld,
)

Rule = Callable[[Fact, Context], list[Notice]]

VALID_LPCO = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.AMENDED})


def approval_decided(fact: Fact, ctx: Context) -> list[Notice]:
    """A licence or approval decided (granted, refused, suspended, cancelled, restored, renewed;
    an IEE/EIA or export LPCO decided) → the holder, proponent or exporter."""
    decision = decision_of(fact.data)
    if decision is None:
        return []
    authority = decision.authority or org_of(fact.source)
    message = Message("approval_decided", {
        "what": decision.what, "ref": Ident(fact.data.subject),
        "decision": Term("decision", decision.code),
        "authority": ctx.directory.org_name(authority), "date": Day(decision.on),
    })
    build = Builder(AlertRule.APPROVAL_DECIDED, fact.data.subject, event_cause(fact),
                    decision.severity, message, decision.act_by,
                    {"decision": decision.code, "decided_on": decision.on.isoformat()})
    firm = ctx.directory.firm(decision.party)
    return fan_out([firm.org] if firm else [], build)


def deficiency_notified(fact: Fact, ctx: Context) -> list[Notice]:
    """A deficiency notice → the applicant, with its respond-by date."""
    data = fact.data
    assert isinstance(data, DeficiencyNotified)
    message = Message("deficiency_notified", {
        "authority": ctx.directory.org_name(org_of(fact.source)), "ref": Ident(data.title_number),
        "notice": Ident(data.notice_ref), "count": Number(len(data.items)),
        "respond_by": Day(data.respond_by),
    })
    build = Builder(AlertRule.DEFICIENCY_NOTIFIED, data.title_number, event_cause(fact),
                    Severity.WARNING, message, data.respond_by,
                    {"notice_ref": data.notice_ref, "respond_by": data.respond_by.isoformat()})
    firm = ctx.directory.firm(data.holder_uscc)
    return fan_out([firm.org] if firm else [], build)


def approval_problem(
    data: CustomsDeclarationFiled | CustomsDeclarationAmended, ctx: Context
) -> str | None:
    """Why no export approval the declaration cites is valid for it (None: one is), on the day
    it was filed or amended."""
    if not data.export_approvals:
        return "none_cited"
    moment = data.filed_at if isinstance(data, CustomsDeclarationFiled) else data.amended_at
    filed_on = moment.astimezone(PAKISTAN_TIME).date()
    problems = []
    for lpco in data.export_approvals:
        view: ApprovalView | None = ctx.views.approvals.get(lpco)
        if view is None or view.kind is not ApprovalKind.EXPORT:
            problems.append("unknown")
        elif view.holder_uscc != data.exporter_uscc:
            problems.append("other_exporter")
        elif view.status not in VALID_LPCO:
            problems.append("not_approved")
        elif view.expires_on is not None and view.expires_on < filed_on:
            problems.append("expired")
        else:
            return None
    return problems[0]


def export_without_approval(fact: Fact, ctx: Context) -> list[Notice]:
    """A declaration for export (as filed, or as amended) without a valid export approval →
    customs and the shipper."""
    data = fact.data
    assert isinstance(data, CustomsDeclarationFiled | CustomsDeclarationAmended)
    problem = approval_problem(data, ctx)
    if problem is None:
        return []
    message = Message("export_without_approval", {
        "declaration": Ident(data.declaration_number), "shipment": Ident(data.shipment_id),
        "exporter": ctx.directory.firm_name(data.exporter_uscc),
        "problem": Term("approval_problem", problem),
    })
    build = Builder(AlertRule.EXPORT_WITHOUT_APPROVAL, data.shipment_id, event_cause(fact),
                    Severity.CRITICAL, message, None,
                    {"problem": problem, "declaration": data.declaration_number})
    firm = ctx.directory.firm(data.exporter_uscc)
    return fan_out(ctx.directory.registered(*ctx.directory.serving(Function.CUSTOMS),
                                            firm.org if firm else None),
                   build)


def customs_hold(fact: Fact, ctx: Context) -> list[Notice]:
    """A customs hold → both sides: the customs office that holds it and the exporter."""
    data = fact.data
    assert isinstance(data, CustomsHeld)
    customs = org_of(fact.source)
    message = Message("customs_hold", {
        "shipment": Ident(data.shipment_id),
        "exporter": ctx.directory.firm_name(data.exporter_uscc),
        "customs": ctx.directory.org_name(customs), "held": Moment(data.held_at),
        "declaration": Ident(data.declaration_number),
        "reason": Term("hold_reason", data.reason.value),
    })
    build = Builder(AlertRule.CUSTOMS_HOLD, data.shipment_id, event_cause(fact),
                    Severity.WARNING, message, None,
                    {"reason": data.reason.value, "detail": data.detail[:200]})
    firm = ctx.directory.firm(data.exporter_uscc)
    return fan_out(ctx.directory.registered(customs, firm.org if firm else None), build)


def project_message(data: ProjectRegistered, key: str) -> Message:
    return Message(key, {
        "name": Name.of(data.names), "ref": Ident(data.project_id),
        "province": Term("province", data.province.value),
        "minerals": Terms("mineral", tuple(m.value for m in data.minerals)),
        "stage": Term("stage", data.stage.value), "operator": Name.of(data.operator_name),
    })


def project_matched(fact: Fact, ctx: Context) -> list[Notice]:
    """A new project matching a firm's subscription → that firm (never the operator itself)."""
    data = fact.data
    assert isinstance(data, ProjectRegistered)
    operator = ctx.directory.firm(data.operator_uscc)
    wanted = [s.org for s in ctx.subscriptions
              if s.matches(data.minerals, data.province, data.stage)
              and (operator is None or s.org != operator.org)]
    build = Builder(AlertRule.PROJECT_MATCHED, data.project_id, event_cause(fact),
                    Severity.INFO, project_message(data, "project_matched"), None,
                    {"province": data.province.value, "stage": data.stage.value})
    return fan_out(ctx.directory.registered(*wanted), build)


EVENT_RULES: tuple[tuple[type | tuple[type, ...], Rule], ...] = (
    (DeficiencyNotified, deficiency_notified),
    ((CustomsDeclarationFiled, CustomsDeclarationAmended), export_without_approval),
    (CustomsHeld, customs_hold),
    (ProjectRegistered, project_matched),
)
"""Event type(s) → rule; ``approval_decided`` looks at every event (``decisions`` filters)."""


def event_notices(fact: Fact, ctx: Context, arrived: datetime | None = None) -> list[Notice]:
    """Every notice ``fact`` raises. Silent when it reached the log longer ago than the config's
    horizon (a rebuild replaying history), judged by ``arrived`` (the broker's append time) when
    known: a decision dated long ago but appended now (a backfill, or a late entry the skew
    allowed) still reaches its recipients."""
    horizon = ctx.config.max_event_age_days
    if horizon is not None and ctx.now - (arrived or fact.time) > timedelta(days=horizon):
        return []
    notices = approval_decided(fact, ctx)
    for types, rule in EVENT_RULES:
        if isinstance(fact.data, types):
            notices += rule(fact, ctx)
    return notices
