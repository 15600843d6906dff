"""A year on the bus, generated: realistic, seeded, and pure, for the demo, tests and benchmarks.

``generate(seed, start, scale)`` returns the year's steps in time order (who publishes which
event when, under which id, along which real path: the SDK, ``emining import`` or the HTTP
gateway), the attacks to inject raw, and the expected outcome the generator decided. The same
seed, start and scale always give the same scenario, byte for byte.

Publishing it (the demo's job): for each of ``scenario.batches()`` in order, for each
organisation's steps in ``batch.by_org()``: ``path == "sdk"``: one ``Publisher.publish_many(
[Draft(s.data, s.event_id, s.time) ...])``; ``"import"``: a JSON Lines file of
``s.import_row()`` given to ``emining import --as <org>``; ``"http"``: ``POST /v1/events`` with
``s.http_body()`` under the organisation's API key (its custody key added beforehand). Then each
attack: ``forge(attack, keys)`` sent raw to the topic (``schemas.envelope.to_record``), or, for
a replay, the record of ``attack.replays`` read back from the log and sent again unchanged.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from infra.demo import scenario_applications as applications
from infra.demo import scenario_attacks as attacks
from infra.demo import scenario_filings as filings
from infra.demo import scenario_plants as plants
from infra.demo import scenario_projects as projects
from infra.demo import scenario_sites as sites
from infra.demo import scenario_trade as trade
from infra.demo import scenario_world as w
from infra.demo.scenario_attacks import Attack, ExpectedFinding, Technique, forge
from infra.demo.scenario_core import PATHS, Builder, PublishPath, Step
from infra.demo.scenario_facts import DeemedApproval, Expected, PendingApproval

__all__ = [
    "PATHS",
    "Attack",
    "Batch",
    "DeemedApproval",
    "Expected",
    "ExpectedFinding",
    "PendingApproval",
    "PublishPath",
    "Scenario",
    "Step",
    "Technique",
    "forge",
    "generate",
]

DEFAULT_START = date(2025, 7, 1)


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive steps of one path in which no subject is spoken of by two organisations.

    Publishing batches one after another keeps every subject's events in order, while within a
    batch each organisation's steps (in order) may go as one import file, one ``publish_many``
    or one run of gateway posts, even concurrently with the other organisations'.
    """

    path: PublishPath
    steps: tuple[Step, ...]

    def by_org(self) -> dict[str, tuple[Step, ...]]:
        out: dict[str, list[Step]] = {}
        for step in self.steps:
            out.setdefault(step.org, []).append(step)
        return {org: tuple(steps) for org, steps in out.items()}


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    start: date
    scale: float
    steps: tuple[Step, ...]
    """Every event of the year, strictly increasing in time."""
    attacks: tuple[Attack, ...]
    expected: Expected

    @property
    def end(self) -> datetime:
        """The first instant after the year (the views' "as of" for the expected outcome)."""
        return self.expected.as_of

    def step(self, event_id: str) -> Step:
        return next(s for s in self.steps if s.event_id == event_id)

    def counts_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(s.data.TYPE.removeprefix("pk.emining.")
                                   for s in self.steps).items()))

    def counts_by_path(self) -> dict[str, int]:
        return {path: sum(1 for s in self.steps if s.path == path) for path in PATHS}

    def organisations(self, path: PublishPath | None = None) -> tuple[str, ...]:
        """Who publishes (along ``path``): e.g. the organisations needing gateway custody keys."""
        return tuple(sorted({s.org for s in self.steps if path in {None, s.path}}))

    def batches(self) -> list[Batch]:
        out: list[Batch] = []
        run: list[Step] = []
        speakers: dict[str, str] = {}
        for step in self.steps:
            clash = speakers.get(step.subject, step.org) != step.org
            if run and (step.path != run[0].path or clash):
                out.append(Batch(run[0].path, tuple(run)))
                run, speakers = [], {}
            run.append(step)
            speakers[step.subject] = step.org
        if run:
            out.append(Batch(run[0].path, tuple(run)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "start": self.start.isoformat(), "scale": self.scale,
            "counts": {"by_path": self.counts_by_path(), "by_type": self.counts_by_type()},
            "steps": [s.to_json() for s in self.steps],
            "attacks": [a.to_json() for a in self.attacks],
            "expected": self.expected.to_json(),
        }

    def dumps(self) -> str:
        """The whole scenario as canonical JSON text: equal texts, equal years."""
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))


MAX_SCALE = 50
"""Beyond this, twins' project serials would outgrow their four digits."""
TWINS_PER_UNIT = 7
"""A producing site's twin carries about 110 events a year: seven of them add a base year's."""


def _twins(scale: float) -> tuple[w.Site, ...]:
    extra = max(0, round(TWINS_PER_UNIT * (scale - 1)))
    return tuple(sites.twin(sites.ROUTINE[i % len(sites.ROUTINE)], i // len(sites.ROUTINE) + 1)
                 for i in range(extra))


def _in_order(b: Builder) -> tuple[Step, ...]:
    """The steps by time (creation order breaks ties), nudged to strictly increasing times."""
    ordered = sorted(enumerate(b.steps), key=lambda pair: (pair[1].time, pair[0]))
    out: list[Step] = []
    for _, step in ordered:
        later = out and step.time <= out[-1].time
        out.append(replace(step, time=out[-1].time + timedelta(seconds=1)) if later else step)
    if out and not b.within(out[-1].time):
        raise ValueError("the year's last step spilled past its end")
    return tuple(out)


def generate(seed: int = 2026, start: date = DEFAULT_START, scale: float = 1.0) -> Scenario:
    """A year from ``start`` on the bus; ``scale`` multiplies the routine traffic (2.0: about
    twice the events; 0.2: a small year with every story element still in it)."""
    if not 0 < scale <= MAX_SCALE:
        raise ValueError(f"scale must be above 0 and at most {MAX_SCALE}")
    b = Builder(seed, start, scale)
    everything = sites.SITES + _twins(scale)
    by_key = {site.key: site for site in everything}
    leases = applications.leases(b, everything)
    for site in everything:
        lease = leases.get(site.key)
        projects.register(b, site, (lease.number,) if lease else ())
    plants.register(b)
    applications.licence_year(b, by_key, leases)
    numbers = {key: lease.number for key, lease in leases.items()}
    filings.environmental_year(b, by_key, numbers)
    for site in everything:
        projects.project_story(b, site)
        if site.production is not None and site.key in numbers:
            filings.royalty_year(b, site, numbers[site.key])
    plants.deliveries(b, by_key[plants.SUPPLIER_KEY])
    trade.story_exports(b, by_key, numbers)
    for site in everything:
        trade.routine_exports(b, site, numbers.get(site.key))
    bad = attacks.build(b)
    return Scenario(seed, start, scale, _in_order(b), bad, b.facts.expected(b.end))
