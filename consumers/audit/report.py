"""``audit report``: what the log says happened, measured: one model behind HTML, CSV and JSON.

The numbers come from a replay (the views as the log defines them, built by the views' own
projections) and the findings from a verify of the same log.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from consumers.audit.dataset import Dataset, load_dataset
from consumers.audit.findings import VerifyReport
from consumers.audit.leadtimes import (
    Breach,
    Decision,
    LeadTime,
    breaches,
    decisions,
    lead_times,
    local_day,
)
from consumers.audit.records import AuditTopics
from consumers.audit.register import Licence, ShipmentGroup, licence_register, shipment_groups
from consumers.audit.replay import ReplayResult, replay
from consumers.audit.verify import verify_log
from consumers.store import ViewStore
from schemas.standards import Standards
from schemas.timing import TimeBounds
from transport.access import KafkaAccess

Progress = Callable[[str, int, int], None]
"""``(phase, done, total)``."""


@dataclass(frozen=True, slots=True)
class Happening:
    """One point of a project's timeline: an event about the project or one of its files."""

    time: datetime
    subject: str
    lane: str
    summary: str
    by: str
    party: str = ""
    """Who ``by`` names: the organisation's URN (its names in every language are the registry's)."""


@dataclass(frozen=True, slots=True)
class ProjectStory:
    project_id: str
    name: str
    operator: str
    stage: str
    happenings: tuple[Happening, ...]
    local_names: dict[str, str] = field(default_factory=dict)
    """The project's names by language (en, zh, ur), as its operator registered them."""
    operator_uscc: str = ""


@dataclass(slots=True)
class Report:
    generated_at: datetime
    as_of: datetime | None
    digest: str
    records: int
    standards: Standards
    verify: VerifyReport | None = None
    decisions: list[Decision] = field(default_factory=list)
    lead_times: list[LeadTime] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    register: list[Licence] = field(default_factory=list)
    shipments: list[ShipmentGroup] = field(default_factory=list)
    projects: list[ProjectStory] = field(default_factory=list)
    """Every project's story (the CSV export has them all)."""
    projects_shown: int | None = 50
    """How many of them the page shows (``None``: all)."""
    names: dict[str, str] = field(default_factory=dict)
    local_names: dict[str, dict[str, str]] = field(default_factory=dict)
    """Organisation URN or USCC → its names by language (en, zh, ur), from the registry."""

    def name(self, party: str) -> str:
        return self.names.get(party, party)

    def name_in(self, party: str, lang: str) -> str:
        """The party's name in ``lang`` (en, zh, ur), else in English, else its code."""
        return self.local_names.get(party, {}).get(lang) or self.name(party)


def _lane(subject: str) -> str:
    if subject.startswith("PRJ-"):
        return "project"
    if subject.startswith("SHP-"):
        return "shipment"
    if subject.startswith(("EIA-", "IEE-")):
        return "environment"
    if subject.startswith("LPCO-"):
        return "export"
    return "licence"


def project_stories(data: Dataset) -> list[ProjectStory]:
    """Each project with everything about it (titles, filings, shipments, their LPCOs) in time."""
    shipments_of: dict[str, set[str]] = {}
    project_of_shipment: dict[str, str] = {}
    for sid, shipment in data.shipments.items():
        if shipment.project_id:
            shipments_of.setdefault(shipment.project_id, set()).add(sid)
            project_of_shipment[sid] = shipment.project_id
    files_of: dict[str, set[str]] = {}
    for ref, approval in data.approvals.items():
        owner = approval.project_id or project_of_shipment.get(approval.shipment_id or "")
        if owner:
            files_of.setdefault(owner, set()).add(ref)
    stories: list[ProjectStory] = []
    for project_id, view in sorted(data.projects.items()):
        subjects = {project_id, *view.titles, *files_of.get(project_id, ()),
                    *shipments_of.get(project_id, ())}
        happenings = sorted(
            (Happening(e.time, e.subject, _lane(e.subject), e.summary,
                       data.name(e.source.split("/", 1)[0]), e.source.split("/", 1)[0])
             for s in subjects for e in data.timelines.get(s, ())),
            key=lambda h: (h.time, h.subject))
        stories.append(ProjectStory(
            project_id, view.names.en if view.names else project_id,
            data.name(view.operator_uscc), view.stage.value if view.stage else "",
            tuple(happenings),
            view.names.model_dump(exclude_none=True) if view.names else {}, view.operator_uscc))
    return stories


def build_report(
    data: Dataset, *, standards: Standards, as_of: datetime | None, digest: str, records: int,
    verify: VerifyReport | None = None, projects_limit: int | None = 50,
    now: datetime | None = None,
) -> Report:
    """Everything the report shows, computed from the replayed views (pure)."""
    generated = now or datetime.now(UTC)
    found = decisions(data, standards)
    return Report(
        generated_at=generated, as_of=as_of, digest=digest, records=records,
        standards=standards, verify=verify, decisions=found,
        lead_times=lead_times(found, standards),
        breaches=breaches(found, local_day(as_of or generated)),
        register=licence_register(data), shipments=shipment_groups(data),
        projects=project_stories(data), projects_shown=projects_limit,
        names=data.names, local_names=data.local_names,
    )


async def audit_report(
    kafka: KafkaAccess, trust_anchor: Iterable[bytes], *, topics: AuditTopics | None = None,
    as_of: datetime | None = None, include_late: bool = False,
    standards: Standards | None = None, projects_limit: int | None = 50,
    workers: int | None = None, timeout_s: float = 15.0,
    on_progress: Progress | None = None, time_bounds: TimeBounds | None = None,
    worker_setup: Callable[[], object] | None = None,
) -> tuple[Report, ReplayResult]:
    """Verify the log, replay it into a scratch store, and build the report from that;
    ``worker_setup`` runs first in the replay's verify worker (logging)."""
    anchors = list(trust_anchor)
    progress = on_progress or (lambda _phase, _done, _total: None)
    verified = await verify_log(kafka, anchors, topics=topics, workers=workers,
                                timeout_s=timeout_s, time_bounds=time_bounds,
                                on_progress=lambda d, t: progress("verifying", d, t))
    with tempfile.TemporaryDirectory(prefix="emining-report-") as folder:
        url = f"sqlite:///{Path(folder) / 'views.sqlite'}"
        replayed = await replay(kafka, anchors, url, topics=topics, as_of=as_of,
                                include_late=include_late, timeout_s=timeout_s,
                                time_bounds=time_bounds, workers=workers,
                                worker_setup=worker_setup,
                                on_progress=lambda d, t: progress("replaying", d, t))
        store = ViewStore(url)
        try:
            await store.open()
            data = await load_dataset(store, verified.registry)
        finally:
            await store.close()
    report = build_report(data, standards=standards or Standards(), as_of=as_of,
                          digest=replayed.digest.sha256, records=replayed.records,
                          verify=verified, projects_limit=projects_limit)
    return report, replayed
