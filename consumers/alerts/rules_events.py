"""Event rules: what an accepted event tells whom, at once (pure functions of fact and context).

Most rules are declared with the event type, in its registry entry (``EventSpec.alerts``:
recipients, severity, words in three languages); ``declared`` runs them all. The few that
need more than the event (the approvals view, the firms' subscriptions) are written here, in
``CODE_RULES``, and an entry names them (``EventSpec.rules``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from consumers.alerts.context import Context, event_cause
from consumers.alerts.i18n import Ident, Message, Name, Param, Term, Terms
from consumers.alerts.model import Builder, Notice, fan_out
from consumers.views.facts import Fact
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from schemas.alerts import AlertRule, Severity, rule_named
from schemas.common import Function
from schemas.envelope import org_of
from schemas.events.projects import ProjectRegistered
from schemas.events.registry import spec_of
from schemas.events.shipments_border import (
    PAKISTAN_TIME,
    CustomsDeclarationAmended,
    CustomsDeclarationFiled,
)
from schemas.events.spec import EventAlert, Tell
from schemas.messages import Emitter, Firm, Org, PartyParam

Rule = Callable[[Fact, Context], list[Notice]]

VALID_LPCO = frozenset({ApprovalStatus.APPROVED, ApprovalStatus.AMENDED})


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


CODE_RULES: Mapping[str, Rule] = {
    AlertRule.EXPORT_WITHOUT_APPROVAL.value: export_without_approval,
    AlertRule.PROJECT_MATCHED.value: project_matched,
}
"""Rules written in code, by the name an entry's ``EventSpec.rules`` gives them."""


def _value(param: Param | PartyParam, fact: Fact, ctx: Context) -> Param:
    match param:
        case Firm(uscc):
            return ctx.directory.firm_name(uscc)
        case Org(org_id):
            return ctx.directory.org_name(org_id)
        case Emitter():
            return ctx.directory.org_name(org_of(fact.source))
    return param


def _recipients(tell: Tell, fact: Fact, ctx: Context) -> list[str | None]:
    if tell.emitter:
        return [org_of(fact.source)]
    if tell.function is not None:
        return list(ctx.directory.serving(tell.function))
    party = ctx.directory.firm(str(getattr(fact.data, tell.firm_field or "")))
    return [party.org if party else None]


def raise_declared(alert: EventAlert, fact: Fact, ctx: Context) -> list[Notice]:
    """The notices of one alert an entry declares: to each registered recipient, once."""
    data = fact.data
    if not alert.when(data):
        return []
    params = {name: _value(p, fact, ctx) for name, p in alert.says(data).items()}
    build = Builder(rule_named(alert.rule), data.subject, event_cause(fact),
                    alert.severity_of(data), Message(alert.rule, params), alert.due(data),
                    alert.details(data))
    wanted = [org for tell in alert.tell for org in _recipients(tell, fact, ctx)]
    return fan_out(ctx.directory.registered(*wanted), build)


def declared(fact: Fact, ctx: Context) -> list[Notice]:
    """Every notice the entry of ``fact``'s type declares, then those of the code rules it
    names."""
    spec = spec_of(type(fact.data))
    if spec is None:
        return []
    notices = [n for alert in spec.alerts for n in raise_declared(alert, fact, ctx)]
    for name in spec.rules:
        notices += CODE_RULES[name](fact, ctx)
    return notices


def event_notices(fact: Fact, ctx: Context, arrived: datetime | None = None) -> list[Notice]:
    """Every notice ``fact`` raises. Silent when it reached the log longer ago than the config's
    horizon (a rebuild replaying history), judged by ``arrived`` (the broker's append time) when
    known: a decision dated long ago but appended now (a backfill, or a late entry the skew
    allowed) still reaches its recipients."""
    horizon = ctx.config.max_event_age_days
    if horizon is not None and ctx.now - (arrived or fact.time) > timedelta(days=horizon):
        return []
    return declared(fact, ctx)
