"""How long each agency took to decide, and which deadlines it missed: the streamlining, measured.

A file's lead time runs from its receipt (a licence application's ``received_at``, an
environmental filing, an LPCO's first step) to its decision (granted or refused, approved or
rejected), both as the events state them, so a backfilled history measures the same as a live
one. The median is the middle value; p90 interpolates linearly between order statistics (as
numpy's default and ``statistics.quantiles(method="inclusive")`` do).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from consumers.audit.dataset import Dataset
from consumers.views.models import ApprovalKind, ApprovalStatus, ApprovalView
from consumers.views.standing import table_due
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.standards import Standards

CLOSED = frozenset({ApprovalStatus.WITHDRAWN.value})
"""Closed without a decision: no lead time, no deadline to miss."""
PAUSED = frozenset({ApprovalStatus.DEFICIENT.value})
"""Waiting on the applicant: no deadline runs (as in the views and the alert rules)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One file's way to its first decision."""

    ref: str
    kind: str
    authority: str
    category: str
    received_at: datetime
    decided_at: datetime | None
    outcome: str
    due_on: date | None
    project_id: str | None = None

    @property
    def days(self) -> float | None:
        if self.decided_at is None:
            return None
        return (self.decided_at - self.received_at).total_seconds() / 86400


def local_day(moment: datetime) -> date:
    return moment.astimezone(PAKISTAN_TIME).date()


def _category(view: ApprovalView) -> str | None:
    if view.kind is ApprovalKind.TITLE:
        return view.title_type.value if view.title_type else None
    if view.kind is ApprovalKind.ENVIRONMENTAL:
        return view.assessment
    return view.lpco_type


def _due(view: ApprovalView, category: str, data: Dataset, standards: Standards) -> date | None:
    received = local_day(view.received_at) if view.received_at else None
    if received is None:
        return None
    if view.kind is ApprovalKind.TITLE:
        acknowledged = data.first(view.ref, "approval.licence.application.acknowledged")
        if acknowledged and acknowledged.get("decision_due_on"):
            return date.fromisoformat(acknowledged["decision_due_on"])
        assert view.received_at is not None
        return table_due(view, view.received_at, standards)  # days spent deficient added
    if view.kind is ApprovalKind.ENVIRONMENTAL:
        filed = data.first(view.ref, "approval.environmental.filed") or {}
        complete = filed.get("complete_on")
        if complete is None:
            return None  # the deemed-approval clock runs only once the filing is complete
        return standards.due(category, received, date.fromisoformat(complete))
    return standards.due(category, received)


def decisions(data: Dataset, standards: Standards) -> list[Decision]:
    """Every approval with a known receipt, with its decision (if any) and its deadline."""
    out: list[Decision] = []
    for view in data.approvals.values():
        category = _category(view)
        if view.received_at is None or category is None or view.status is None:
            continue
        out.append(Decision(  # decided_at stays once set: a granted title may move on since
            ref=view.ref, kind=view.kind.value, authority=view.authority or "unknown",
            category=category, received_at=view.received_at, decided_at=view.decided_at,
            outcome=view.status.value, due_on=_due(view, category, data, standards),
            project_id=view.project_id,
        ))
    return sorted(out, key=lambda d: (d.kind, d.authority, d.category, d.ref))


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0-1) with linear interpolation between order statistics."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class LeadTime:
    """One agency's decisions on one category of file."""

    kind: str
    authority: str
    category: str
    decided: int
    pending: int
    median_days: float | None
    p90_days: float | None
    standard_days: int | None
    within_standard: int
    """Decisions taken no later than their deadline."""

    @property
    def share_within(self) -> float | None:
        return self.within_standard / self.decided if self.decided else None


def lead_times(items: Iterable[Decision], standards: Standards) -> list[LeadTime]:
    groups: dict[tuple[str, str, str], list[Decision]] = defaultdict(list)
    for item in items:
        groups[(item.kind, item.authority, item.category)].append(item)
    rows: list[LeadTime] = []
    for (kind, authority, category), group in sorted(groups.items()):
        days = [d.days for d in group if d.days is not None]
        on_time = sum(1 for d in group if d.decided_at is not None and d.due_on is not None
                      and local_day(d.decided_at) <= d.due_on)
        rows.append(LeadTime(
            kind=kind, authority=authority, category=category, decided=len(days),
            pending=sum(1 for d in group if d.decided_at is None and d.outcome not in CLOSED),
            median_days=statistics.median(days) if days else None,
            p90_days=percentile(days, 0.9) if days else None,
            standard_days=standards.period(category), within_standard=on_time,
        ))
    return rows


@dataclass(frozen=True, slots=True)
class Breach:
    """A deadline missed: decided late, or still undecided after it."""

    ref: str
    kind: str
    authority: str
    category: str
    due_on: date
    decided_on: date | None
    days_late: int
    what: str
    project_id: str | None = None


def breaches(items: Iterable[Decision], as_of: date) -> list[Breach]:
    out: list[Breach] = []
    for d in items:
        if d.due_on is None or d.outcome in CLOSED:
            continue
        decided_on = local_day(d.decided_at) if d.decided_at else None
        if decided_on is not None and decided_on > d.due_on:
            what = "decided late"
            late = (decided_on - d.due_on).days
        elif decided_on is None and d.outcome in PAUSED:
            continue  # waiting on the applicant: the authority's clock stands still
        elif decided_on is None and as_of > d.due_on:
            what = ("deemed approved: no decision within the statutory period"
                    if d.kind == ApprovalKind.ENVIRONMENTAL else "overdue, still undecided")
            late = (as_of - d.due_on).days
        else:
            continue
        out.append(Breach(d.ref, d.kind, d.authority, d.category, d.due_on, decided_on, late,
                          what, d.project_id))
    return sorted(out, key=lambda b: (-b.days_late, b.ref))
