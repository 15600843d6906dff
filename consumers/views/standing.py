"""What the law makes of a pending file: its service-standard due date, and, read on a given day,
days pending, a breach of the standard, and an environmental approval deemed granted by silence.

Two halves, so that the views stay a fold of the log (same log, same digest, whatever the clock):

* ``standard_due_on`` is derived from the view alone when the fold applies an event, and stored.
  It uses the one standards table (``schemas.standards``) the alert rules and the audit read.
* ``standing`` is computed when a view is read, for a day the reader supplies (``today``): it is
  never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from consumers.views.models import PENDING, ApprovalKind, ApprovalStatus, ApprovalView
from consumers.views.query import APPROVAL_STATUSES, statuses
from schemas.events.shipments_border import PAKISTAN_TIME
from schemas.standards import Standards

S = ApprovalStatus
STANDARDS = Standards()
"""The default table: the same numbers the alert rules and the audit use unless overridden."""

AWAITING_AUTHORITY = frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.RESUBMITTED})
"""A licence application whose service-standard clock runs (not while the applicant is asked to
remedy a deficiency: that time is added to the deadline, as the alert rules do)."""
LPCO_PENDING = frozenset({S.SUBMITTED, S.DOCUMENTS_CALLED, S.INSPECTION_CALLED})
DEEMED = "deemed_approved"


def local_day(moment: datetime) -> date:
    """The calendar day in Pakistan of ``moment``."""
    return moment.astimezone(PAKISTAN_TIME).date()


def today_in_pakistan(now: datetime | None = None) -> date:
    """Today in Pakistan (the read-time clock; tests pass ``now``)."""
    return local_day(now or datetime.now(UTC))


def standard_due_on(view: ApprovalView, standards: Standards = STANDARDS) -> date | None:
    """The day a pending file should be decided by, from the view alone (deterministic): the one
    due-date rule the views store and the alert rules schedule by (with their configured table).

    A licence application: the ``decision_due_on`` the authority stated when acknowledging it,
    else its receipt plus the title type's standard, days spent deficient not counted. An
    environmental filing: its deemed-approval day (complete filing + 4 months). An export LPCO:
    its first step plus the LPCO type's standard. ``None`` once decided, while deficient, or when
    no standard applies.
    """
    if view.received_at is None or view.status is None:
        return None
    if view.kind is ApprovalKind.TITLE:
        return _title_due(view, view.received_at, standards)
    if view.kind is ApprovalKind.ENVIRONMENTAL:
        return view.due.get("deemed_approval_on") if view.status is S.FILED else None
    if view.status in LPCO_PENDING and view.lpco_type is not None:
        return standards.due(view.lpco_type, local_day(view.received_at))
    return None


def _title_due(view: ApprovalView, received_at: datetime, standards: Standards) -> date | None:
    if view.status not in AWAITING_AUTHORITY:
        return None
    stated = view.due.get("decision_due_on")
    if stated is not None or view.title_type is None:
        return stated
    return table_due(view, received_at, standards)


def table_due(view: ApprovalView, received_at: datetime, standards: Standards) -> date | None:
    """A licence application's due date by the table: receipt plus its title type's days, the
    days it spent deficient (waiting on the applicant) added. The views, the alert rules and
    the audit all count it so."""
    if view.title_type is None:
        return None
    paused = timedelta(seconds=view.time_in_state.get(S.DEFICIENT.value, 0))
    return standards.due(view.title_type.value, local_day(received_at + paused))


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def effective_status(doc: Mapping[str, Any], today: date) -> str | None:
    """The status as the law has it on ``today``: an environmental filing still undecided on its
    deemed-approval day is deemed approved, whatever the view (a fold of events) recorded."""
    status = doc.get("status")
    deemed = _day((doc.get("due") or {}).get("deemed_approval_on"))
    if (doc.get("kind") == ApprovalKind.ENVIRONMENTAL.value and status == S.FILED.value
            and deemed is not None and today >= deemed):
        return DEEMED
    return None if status is None else str(status)


def standing(doc: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Read-time fields of an approval view document on ``today`` (never stored in the views).

    ``effective_status``; ``days_pending``: whole days since receipt (since the renewal
    application for a renewal) while awaiting a decision; ``breached``: still pending after
    its ``standard_due_on``.
    """
    status = effective_status(doc, today)
    pending = status is not None and status in PENDING
    since = doc.get("state_since") if status == S.RENEWAL_APPLIED.value else doc.get("received_at")
    start = datetime.fromisoformat(str(since)) if since else None
    if start is not None and local_day(start) > today:
        start, pending = None, False  # not received yet on that day
    due = _day(doc.get("standard_due_on"))
    return {
        "as_of": today.isoformat(),
        "effective_status": status,
        "days_pending": (today - local_day(start)).days if pending and start else None,
        "breached": bool(pending and due is not None and today > due),
    }


def with_standing(doc: Mapping[str, Any], today: date) -> dict[str, Any]:
    return {**doc, **standing(doc, today)}


def _stored_statuses(wanted: list[str], breached: bool) -> list[str]:
    """Stored statuses that may have the wanted effective ones (a deemed approval is stored
    ``filed``); with ``breached``, only statuses that can be past a standard."""
    stored = set(wanted)
    if DEEMED in stored:
        stored.add(ApprovalStatus.FILED.value)
    if breached:
        can = {s.value for s in (*AWAITING_AUTHORITY, *LPCO_PENDING, ApprovalStatus.FILED)}
        stored = stored & can if stored else can
    return sorted(stored)


def stored_filters(read: Mapping[str, Any]) -> dict[str, Any]:
    """The stored statuses an approvals list reads for its ``status`` and ``breached``."""
    wanted = statuses(read.get("status") or [], APPROVAL_STATUSES)
    return {"status": _stored_statuses(wanted, bool(read.get("breached")))}


def _received_after(doc: Mapping[str, Any], day: date) -> bool:
    """A file received after ``day``: it did not exist then (the clock of ``--as-of`` is a day's,
    the views are today's: the platform as it stood on a past day is ``audit replay --as-of``)."""
    received = doc.get("received_at")
    return bool(received) and local_day(datetime.fromisoformat(str(received))) > day


def refine(docs: list[dict[str, Any]], read: Mapping[str, Any],
           today: date) -> list[dict[str, Any]]:
    """Approvals with their standing on ``today``, filtered on the effective status
    (``deemed_approved`` includes files the law approved by silence) and, with ``breached``,
    on a pending file past its service standard."""
    wanted = statuses(read.get("status") or [], APPROVAL_STATUSES)
    breached = bool(read.get("breached"))
    items = [with_standing(doc, today) for doc in docs if not _received_after(doc, today)]
    return [i for i in items if (not wanted or i["effective_status"] in wanted)
            and (not breached or i["breached"])]
