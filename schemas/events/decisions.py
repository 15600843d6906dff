"""The ``approval_decided`` alert that every decision on an approval raises, declared once.

A licence granted, refused, suspended, cancelled, restored or renewed (or its renewal refused),
an IEE/EIA decided, an export LPCO approved, rejected or cancelled: each such type's registry
entry adds ``decided(...)``, naming the decision, its day, and the firm it is about; the holder,
proponent or exporter is told, in the words below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from schemas.enums import Severity
from schemas.events.spec import EventAlert, Texts, party
from schemas.identifiers import title_type_of
from schemas.messages import Day, Emitter, Ident, Org, Term

RULE = "approval_decided"

TEXTS = Texts(
    en="{what} {ref} was {decision} by {authority} on {date}.",
    zh="{what} {ref} 已由{authority}于{date}{decision}。",
    ur="{what} {ref}: {authority} نے {date} کو فیصلہ کیا — {decision}۔",  # noqa: RUF001
)

SEVERITY = {
    "granted": Severity.INFO, "restored": Severity.INFO, "renewed": Severity.INFO,
    "approved": Severity.INFO, "approved_with_conditions": Severity.INFO,
    "deemed_approved": Severity.INFO, "refused": Severity.WARNING,
    "renewal_refused": Severity.WARNING, "suspended": Severity.WARNING,
    "rejected": Severity.WARNING, "cancelled": Severity.CRITICAL,
}
"""Decision (a key of the ``decision`` glossary) → how urgent its alert is."""


def title_kind(data: Any) -> Term:
    """What a title event's subject is, in words: its title type."""
    return Term("title_type", title_type_of(data.title_number).value)


def _emitter(_data: Any) -> Emitter | Org:
    return Emitter()


def _no_date(_data: Any) -> date | None:
    return None


def decided(
    code: Callable[[Any], str], on: Callable[[Any], date], *, party_field: str,
    what: Callable[[Any], Term] = title_kind, act_by: Callable[[Any], date | None] = _no_date,
    authority: Callable[[Any], Emitter | Org] = _emitter,
    when: Callable[[Any], bool] = lambda _data: True,
) -> EventAlert:
    """The alert of a decision: ``code(data)`` decided on ``on(data)`` about the firm in
    ``party_field``, appealable until ``act_by(data)``; decided by the emitter unless
    ``authority`` names another (PSW relays the issuing agency's LPCO decisions)."""
    return EventAlert(
        RULE, lambda d: SEVERITY[code(d)], TEXTS, (party(party_field),),
        says=lambda d: {"what": what(d), "ref": Ident(d.subject),
                        "decision": Term("decision", code(d)), "authority": authority(d),
                        "date": Day(on(d))},
        due=act_by,
        details=lambda d: {"decision": code(d), "decided_on": on(d).isoformat()},
        when=when,
    )
