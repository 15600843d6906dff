"""Status transitions of approvals: when a move happened, and the time spent in each state."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from consumers.views.facts import Fact, attributes_of, day_start
from consumers.views.models import ApprovalStatus, ApprovalView

_MOMENTS = ("received_at", "acknowledged_at", "resubmitted_at", "applied_at", "decided_at")
_DAYS = (
    "notified_on", "withdrawn_on", "granted_on", "refused_on", "amended_on", "converted_on",
    "renewed_on", "assigned_on", "issued_on", "suspended_on", "cancelled_on", "restored_on",
    "surrendered_on", "expired_on", "filed_on", "decided_on", "paid_on",
)


def moment_of(fact: Fact) -> datetime:
    """When the event says its step happened: its own time or date field, else the event time.

    Domain times, not the event's emission time, so that a backfilled history still measures how
    long each state lasted. Dates count from midnight in Pakistan.
    """
    kind = type(fact.data)
    for name in attributes_of(kind, _MOMENTS):
        value = getattr(fact.data, name, None)
        if isinstance(value, datetime):
            return value
    for name in attributes_of(kind, _DAYS):
        value = getattr(fact.data, name, None)
        if isinstance(value, date):
            return day_start(value)
    return fact.time


def transition(view: ApprovalView, status: ApprovalStatus, fact: Fact) -> dict[str, Any]:
    """Changes that move ``view`` to ``status``, closing the time spent in the status it leaves.

    A step dated before the current state began (a date-only event on the same day as a timed
    one) counts as happening when that state began: time in a state is never negative.
    """
    since = view.state_since
    at = moment_of(fact)
    if since is not None:
        at = max(at, since)
    if view.status is status:
        return {}
    changes: dict[str, Any] = {"status": status, "state_since": at}
    if view.status is not None and since is not None:
        spent = dict(view.time_in_state)
        spent[view.status.value] = spent.get(view.status.value, 0) + int(
            (at - since).total_seconds()
        )
        changes["time_in_state"] = spent
    return changes


def decided(view: ApprovalView, status: ApprovalStatus, fact: Fact) -> dict[str, Any]:
    """A transition that is a decision: it also records when the file was decided."""
    changes = transition(view, status, fact)
    changes["decided_at"] = changes.get("state_since", view.state_since or moment_of(fact))
    return changes


def without(due: dict[str, date], *names: str) -> dict[str, date]:
    return {k: v for k, v in due.items() if k not in names}


def next_due(view: ApprovalView) -> date | None:
    """The earliest open deadline: named dues, conditions and unpaid royalties."""
    dates = list(view.due.values())
    dates += [c.due_on for c in view.conditions if c.due_on is not None]
    dates += [r.due_on for r in view.royalties.values() if r.paid_on is None and r.due_on]
    return min(dates, default=None)
