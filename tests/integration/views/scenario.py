"""A realistic, deterministic history for the views: parties, grants, and per-story lifecycles.

Each story ``i`` is one firm's project in Balochistan (Chagai for the first 9,999 stories, then
the next district: ``ids_of``) with its exploration licence, its EIA and one
concentrate export: registration, stage change, monthly production, the licence application
(acknowledged, sometimes a deficiency and a resubmission, granted or refused), the EIA (filed,
decided), the export NOC, and the shipment through customs (sometimes held) to Lianyungang.
Some stories carry corrections; every ninth story's licence and EIA are still undecided. Steps
are grouped in rounds: a subject appears at most once per round, so publishing round after round
keeps every subject's events in order on the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from producers.publisher import Draft
from schemas.base import EventData
from schemas.catalogue import model_for
from schemas.events.approvals_applications import add_years
from tests.integration.views.parties import (
    BA_EPA,
    BA_MMDD,
    CUSTOMS,
    FIRMS,
    PLATFORM,
    REGISTRY_FROM,
    T0,
    key_of,
    registry,
    registry_events,
    registry_seed,
)

__all__ = [
    "BA_EPA", "BA_MMDD", "CUSTOMS", "FIRMS", "PLATFORM", "REGISTRY_FROM", "T0", "Scenario",
    "Step", "Story", "build", "event", "ids_of", "key_of", "pending", "registry",
    "registry_events", "registry_seed", "stories_for", "story",
]

def event(type_name: str, **fields: Any) -> EventData:
    """An event of ``type_name`` from its documented EXAMPLE with ``fields`` changed."""
    cls = model_for(type_name)
    return cls.model_validate({**cls.EXAMPLE, **fields})


@dataclass(frozen=True, slots=True)
class Step:
    org: str
    draft: Draft


@dataclass(slots=True)
class Story:
    """One project's history, step by step; ``ids`` finds an event id by its label."""

    index: int
    firm: str
    steps: list[Step] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def uscc(self) -> str:
        return FIRMS[self.firm]

    def add(self, org: str, label: str, data: EventData, at: datetime) -> None:
        event_id = f"evt-{self.index:05d}-{len(self.steps):02d}-{label}"
        self.ids[label] = event_id
        self.steps.append(Step(org, Draft(data, event_id=event_id, time=at)))


DISTRICTS = ("CHG", "LSB", "KZD", "KLT", "WSK", "KRN", "NSK", "QTA", "AWN", "PJG")
"""Balochistan's districts the stories' projects lie in: 9,999 stories each (a project id's
serial has four digits; ``benchmarks.bench_views_soak`` needs ~49k stories for 1M events)."""
SERIALS = 9_999


def ids_of(i: int) -> dict[str, str]:
    """Story ``i``'s subjects. The four-digit serials start again after 9,999 stories, in the
    next district and with the titles and filings of the year before."""
    n = i + 1
    series, serial = divmod(i, SERIALS)
    if series >= len(DISTRICTS):
        raise ValueError(f"at most {len(DISTRICTS) * SERIALS:,} stories")
    year, k = 2025 - series, serial + 1
    return {"project": f"PRJ-BA-{DISTRICTS[series]}-{k:04d}", "title": f"BA-EL-{year}-{k:04d}",
            "eia": f"EIA-BA-{year}-{k:04d}", "lpco": f"LPCO-2026-{n:06d}",
            "shipment": f"SHP-2026-{n:06d}"}


def pending(i: int) -> bool:
    """Story ``i``'s licence application and EIA await their decisions."""
    return i % 9 == 8


def _licence(story: Story, ids: dict[str, str], start: datetime) -> None:
    i, holder, title = story.index, story.uscc, ids["title"]
    story.add(BA_MMDD, "received", event(
        "pk.emining.approval.licence.application.received", title_number=title,
        holder_uscc=holder, received_at=start.isoformat(), project_id=ids["project"],
        application_ref=f"MMDD/BA/2025/{i + 1:04d}"), start)
    ack = start + timedelta(days=1, hours=2)
    story.add(BA_MMDD, "acknowledged", event(
        "pk.emining.approval.licence.application.acknowledged", title_number=title,
        holder_uscc=holder, acknowledged_at=ack.isoformat(),
        decision_due_on=(start + timedelta(days=90)).date().isoformat()), ack)
    decided_on = (start + timedelta(days=60)).date()
    if i % 3 == 0:
        notified = (start + timedelta(days=14)).date()
        story.add(BA_MMDD, "deficiency", event(
            "pk.emining.approval.licence.deficiency.notified", title_number=title,
            holder_uscc=holder, notified_on=notified.isoformat(),
            respond_by=(notified + timedelta(days=30)).isoformat()), start + timedelta(days=14))
        resubmitted = start + timedelta(days=30, hours=5)
        story.add(story.firm, "resubmitted", event(
            "pk.emining.approval.licence.application.resubmitted", title_number=title,
            holder_uscc=holder, resubmitted_at=resubmitted.isoformat()), resubmitted)
    at = datetime(decided_on.year, decided_on.month, decided_on.day, 6, tzinfo=UTC)
    if pending(i):
        return
    if i % 5 == 4:
        story.add(BA_MMDD, "refused", event(
            "pk.emining.approval.licence.refused", title_number=title, holder_uscc=holder,
            refused_on=decided_on.isoformat(),
            appealable_until=(decided_on + timedelta(days=30)).isoformat()), at)
    else:
        story.add(BA_MMDD, "granted", event(
            "pk.emining.approval.licence.granted", title_number=title, holder_uscc=holder,
            granted_on=decided_on.isoformat(), term_years=3,
            expires_on=(add_years(decided_on, 3) - timedelta(days=1)).isoformat(),
            conditions=[]), at)


def _project(story: Story, ids: dict[str, str], start: datetime, months: int) -> None:
    project, uscc = ids["project"], story.uscc
    story.add(story.firm, "registered", event(
        "pk.emining.project.registered", project_id=project, operator_uscc=uscc,
        related_titles=[ids["title"]],
        joint_venture=[{"name": {"en": "Operator"}, "uscc": uscc, "share_pct": "100"}]), start)
    changed = start + timedelta(days=100)
    story.add(story.firm, "stage", event(
        "pk.emining.project.stage.changed", project_id=project, operator_uscc=uscc,
        from_stage="feasibility", to_stage="construction",
        effective_on=changed.date().isoformat()), changed)
    for month in range(1, months + 1):
        story.add(story.firm, f"production-{month}", event(
            "pk.emining.project.production.reported", project_id=project, operator_uscc=uscc,
            period=f"2026-{month:02d}", ore_mined_t=f"{400000 + 1000 * month + story.index}.000",
            ore_milled_t=f"{390000 + 1000 * month}.000"),
            datetime(2026, month + 1, 3, 9, tzinfo=UTC))
    if story.index % 7 == 0 and months:
        story.add(story.firm, "production-corrected", event(
            "pk.emining.project.corrected", project_id=project, operator_uscc=uscc,
            corrects_event_id=story.ids[f"production-{months}"],
            corrected_type="pk.emining.project.production.reported.v1",
            reason="incorrect_data", replacement={"ore_milled_t": "389200.000"}),
            datetime(2026, months + 1, 20, tzinfo=UTC))


def _environment(story: Story, ids: dict[str, str], start: datetime) -> None:
    filed = (start + timedelta(days=5)).date()
    story.add(story.firm, "eia-filed", event(
        "pk.emining.approval.environmental.filed", file_number=ids["eia"],
        proponent_uscc=story.uscc, project_id=ids["project"], title_number=ids["title"],
        filed_on=filed.isoformat(), complete_on=(filed + timedelta(days=21)).isoformat()),
        start + timedelta(days=5))
    if pending(story.index):
        return
    decided = filed + timedelta(days=80)
    conditional = story.index % 2 == 1
    story.add(BA_EPA, "eia-decided", event(
        "pk.emining.approval.environmental.decided", file_number=ids["eia"],
        proponent_uscc=story.uscc, decided_on=decided.isoformat(),
        decision="approved_with_conditions" if conditional else "approved",
        conditions=[{"text": "Quarterly groundwater monitoring", "due_on": "2026-06-30"}]
        if conditional else [], valid_until=add_years(decided, 3).isoformat()),
        datetime(decided.year, decided.month, decided.day, 7, tzinfo=UTC))


def _shipment(story: Story, ids: dict[str, str]) -> None:
    s, x, i = ids["shipment"], story.uscc, story.index
    day = datetime(2026, 4, 1, 3, tzinfo=UTC) + timedelta(hours=i % 500)
    story.add(story.firm, "planned", event(
        "pk.emining.shipment.planned", shipment_id=s, exporter_uscc=x, project_id=ids["project"],
        title_number=ids["title"], planned_departure_on=(day + timedelta(days=9)).date()
        .isoformat()), day)
    story.add(story.firm, "assayed", event(
        "pk.emining.shipment.lot.assayed", shipment_id=s, exporter_uscc=x), day + timedelta(2))
    story.add(story.firm, "loaded", event(
        "pk.emining.shipment.lot.loaded", shipment_id=s, exporter_uscc=x,
        loaded_at=(day + timedelta(4)).isoformat()), day + timedelta(4))
    story.add(BA_MMDD, "lpco-submitted", event(
        "pk.emining.approval.export.decided", lpco_number=ids["lpco"], exporter_uscc=x,
        status="submitted", decided_at=(day + timedelta(1)).isoformat(), valid_until=None,
        shipment_id=s), day + timedelta(1))
    story.add(BA_MMDD, "lpco-approved", event(
        "pk.emining.approval.export.decided", lpco_number=ids["lpco"], exporter_uscc=x,
        status="approved", decided_at=(day + timedelta(3)).isoformat(),
        valid_until=(day + timedelta(90)).date().isoformat(), shipment_id=s), day + timedelta(3))
    story.add(story.firm, "departed", event(
        "pk.emining.shipment.departed", shipment_id=s, exporter_uscc=x,
        departed_at=(day + timedelta(9)).isoformat()), day + timedelta(9))
    declaration = f"KPQE-SB-{i + 1:07d}-2026"
    story.add(story.firm, "declared", event(
        "pk.emining.shipment.customs.declaration.filed", shipment_id=s, exporter_uscc=x,
        declaration_number=declaration, filed_at=(day + timedelta(12)).isoformat(),
        export_approvals=[ids["lpco"]]), day + timedelta(12))
    if i % 4 == 0:
        story.add(CUSTOMS, "held", event(
            "pk.emining.shipment.customs.held", shipment_id=s, exporter_uscc=x,
            declaration_number=declaration, held_at=(day + timedelta(13)).isoformat()),
            day + timedelta(13))
    if i % 8 != 0:  # every eighth shipment is still held at customs
        story.add(CUSTOMS, "cleared", event(
            "pk.emining.shipment.customs.cleared", shipment_id=s, exporter_uscc=x,
            declaration_number=declaration, cleared_at=(day + timedelta(15)).isoformat()),
            day + timedelta(15))
        story.add(story.firm, "vessel", event(
            "pk.emining.shipment.vessel.loaded", shipment_id=s, exporter_uscc=x,
            loaded_at=(day + timedelta(17)).isoformat()), day + timedelta(17))
        story.add(story.firm, "arrived", event(
            "pk.emining.shipment.arrived", shipment_id=s, exporter_uscc=x,
            arrived_at=(day + timedelta(38)).isoformat()), day + timedelta(38))
    if i % 11 == 0:
        story.add(story.firm, "assay-corrected", event(
            "pk.emining.shipment.corrected", shipment_id=s, exporter_uscc=x,
            corrects_event_id=story.ids["assayed"],
            corrected_type="pk.emining.shipment.lot.assayed.v1"), day + timedelta(40))


def story(i: int, *, months: int = 3) -> Story:
    firm = list(FIRMS)[i % len(FIRMS)]
    built = Story(i, firm)
    ids = ids_of(i)
    start = T0 + timedelta(days=i % 200, hours=i % 7)
    _project(built, ids, start, months)
    _licence(built, ids, start + timedelta(days=2))
    _environment(built, ids, start)
    _shipment(built, ids)
    return built


@dataclass(slots=True)
class Scenario:
    stories: list[Story]

    @property
    def events(self) -> int:
        return sum(len(s.steps) for s in self.stories)

    def rounds(self) -> list[list[Step]]:
        """Step ``r`` of every story, for each ``r``: each subject at most once per round."""
        longest = max((len(s.steps) for s in self.stories), default=0)
        return [[s.steps[r] for s in self.stories if r < len(s.steps)] for r in range(longest)]


def build(stories: int, *, months: int = 3) -> Scenario:
    return Scenario([story(i, months=months) for i in range(stories)])


def stories_for(events: int, *, months: int = 3) -> int:
    """How many stories make about ``events`` events."""
    per_story = build(12, months=months).events / 12
    return max(1, round(events / per_story))
