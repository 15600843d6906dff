"""What a rule may read besides its event: the clock's now, config, directory, views, filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consumers.alerts.config import AlertConfig
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.views.facts import Fact
from consumers.views.models import ApprovalView, ProjectView, ShipmentView
from schemas.alerts import AlertCause, CauseKind
from schemas.events.registry import spec_of


@dataclass(frozen=True, slots=True)
class ViewSnapshot:
    """The views a rule reads, as of the moment it runs (loaded by the stage beforehand)."""

    approvals: Mapping[str, ApprovalView] = field(default_factory=dict)
    shipments: Mapping[str, ShipmentView] = field(default_factory=dict)
    projects: Mapping[str, ProjectView] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    now: datetime
    config: AlertConfig
    directory: Directory
    views: ViewSnapshot = ViewSnapshot()
    subscriptions: tuple[Subscription, ...] = ()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "now", self.now.astimezone(UTC))


@dataclass(frozen=True, slots=True)
class Needs:
    """The views and filters the event rules of a batch will read."""

    approvals: frozenset[str] = frozenset()
    subscriptions: bool = False


RULE_NEEDS: Mapping[str, Callable[[Any], Needs]] = {
    "export_without_approval": lambda data: Needs(approvals=frozenset(data.export_approvals)),
    "project_matched": lambda _data: Needs(subscriptions=True),
}
"""Code rule (``rules_events.CODE_RULES``) → what it reads, from the event's data."""


def needs(fact: Fact) -> Needs:
    """What ``fact``'s rules read beyond the fact itself: the needs of the code rules its
    registry entry names (the rules an entry declares read the event alone)."""
    spec = spec_of(type(fact.data))
    wanted = [RULE_NEEDS[rule](fact.data) for rule in (spec.rules if spec else ())]
    return Needs(approvals=frozenset().union(*(n.approvals for n in wanted)),
                 subscriptions=any(n.subscriptions for n in wanted))


def event_cause(fact: Fact) -> AlertCause:
    """The cause of an event alert. The key holds the source: event ids are unique per source."""
    return AlertCause(kind=CauseKind.EVENT, key=f"{fact.source}#{fact.event_id}",
                      event_type=fact.type, source=fact.source, subject=fact.data.subject)
