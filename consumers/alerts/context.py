"""What a rule may read besides its event: the clock's now, config, directory, views, filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from consumers.alerts.config import AlertConfig
from consumers.alerts.directory import Directory
from consumers.alerts.filters import Subscription
from consumers.views.facts import Fact
from consumers.views.models import ApprovalView, ProjectView, ShipmentView
from schemas.alerts import AlertCause, CauseKind
from schemas.events.projects import ProjectRegistered
from schemas.events.shipments_border import CustomsDeclarationAmended, CustomsDeclarationFiled


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


def needs(fact: Fact) -> Needs:
    """What ``fact``'s rules read beyond the fact itself."""
    data = fact.data
    if isinstance(data, CustomsDeclarationFiled | CustomsDeclarationAmended):
        return Needs(approvals=frozenset(data.export_approvals))
    if isinstance(data, ProjectRegistered):
        return Needs(subscriptions=True)
    return Needs()


def event_cause(fact: Fact) -> AlertCause:
    """The cause of an event alert. The key holds the source: event ids are unique per source."""
    return AlertCause(kind=CauseKind.EVENT, key=f"{fact.source}#{fact.event_id}",
                      event_type=fact.type, source=fact.source, subject=fact.data.subject)
