"""A project's titles follow the licences granted for it, computed when the views are read."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from pydantic import ValidationError

from consumers.dlq import DeadLetterQueue
from consumers.store import ViewStore
from consumers.store_read import get_view, list_views
from consumers.sync import ViewSync
from producers.publisher import Draft
from schemas.events.approvals_applications import add_years
from tests.integration.views import scenario
from tests.unit.views.harness import Log, Record, stage_for

FIRM = next(iter(scenario.FIRMS))
USCC = scenario.FIRMS[FIRM]
PROJECT = "PRJ-BA-CHG-0001"
T = datetime(2025, 1, 6, 4, tzinfo=UTC)


def _grant(title: str, on: date, **fields: Any) -> Any:
    return scenario.event("pk.emining.approval.licence.granted", title_number=title,
                          holder_uscc=USCC, granted_on=on.isoformat(), term_years=3,
                          expires_on=(add_years(on, 3) - timedelta(days=1)).isoformat(),
                          **fields)


def _received(title: str, at: datetime) -> Any:
    return scenario.event("pk.emining.approval.licence.application.received",
                          title_number=title, holder_uscc=USCC, received_at=at.isoformat(),
                          project_id=PROJECT, licensing_authority=scenario.BA_MMDD)


def _steps() -> list[tuple[str, Any]]:
    return [
        (FIRM, scenario.event("pk.emining.project.registered", project_id=PROJECT,
                              operator_uscc=USCC, related_titles=["BA-EL-2024-0099"])),
        (scenario.BA_MMDD, _received("BA-EL-2025-0001", T)),
        (scenario.BA_MMDD, _grant("BA-EL-2025-0001", date(2025, 3, 1))),
        # a title granted before the bus, its grant naming the project
        (scenario.BA_MMDD, _grant("BA-EL-2025-0002", date(2025, 3, 2), project_id=PROJECT)),
        (FIRM, scenario.event("pk.emining.approval.licence.surrendered",
                              title_number="BA-EL-2025-0002", holder_uscc=USCC,
                              surrendered_on="2025-06-01", surrendered_area_km2=None)),
        (scenario.BA_MMDD, _received("BA-EL-2025-0003", T + timedelta(days=3))),
    ]


class _Control:
    def __init__(self, records: list[Record]) -> None:
        self._ends: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self._ends[tp] = max(self._ends.get(tp, 0), r.offset + 1)

    def assignment(self) -> set[TopicPartition]:
        return set(self._ends)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        raise AssertionError(f"no re-seek expected ({partition} to {offset})")

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._ends[partition]


async def _store(tmp_path: Path, steps: list[tuple[str, Any]], *, shuffle: int | None = None
                 ) -> ViewStore:
    log = Log()
    records = [log.record(log.seal(org, Draft(data, event_id=f"evt-{i}",
                                              time=T + timedelta(days=i))))
               for i, (org, data) in enumerate(steps)]
    if shuffle is not None:  # another interleaving of the partitions, each in its own order
        by_tp: dict[tuple[str, int], list[Record]] = {}
        for r in records:
            by_tp.setdefault((r.topic, r.partition), []).append(r)
        rng, queues, records = random.Random(shuffle), list(by_tp.values()), []
        while queues:
            queue = rng.choice(queues)
            records.append(queue.pop(0))
            queues = [q for q in queues if q]
    store = ViewStore(f"sqlite+aiosqlite:///{tmp_path}/views-{shuffle}.db")
    await store.open()
    sync = ViewSync(store, stage_for(scenario.registry()), DeadLetterQueue(None, "dlq", "t"))
    for record in records:
        await sync.apply([record], _Control(records))
    return store


async def test_a_granted_licence_naming_the_project_is_among_its_titles(tmp_path):
    store = await _store(tmp_path, _steps())
    try:
        project = await get_view(store, "projects", PROJECT)
        assert project is not None
        assert project["titles"] == ["BA-EL-2024-0099", "BA-EL-2025-0001"]
        files = {f["title_number"]: f for f in project["title_files"]}
        assert files["BA-EL-2024-0099"] == {
            "title_number": "BA-EL-2024-0099", "status": None, "in_force": True,
            "registered": True, "holder_uscc": None, "granted_on": None, "expires_on": None,
            "converted_to": None}
        assert files["BA-EL-2025-0001"]["status"] == "granted"
        assert files["BA-EL-2025-0001"]["granted_on"] == "2025-03-01"
        assert files["BA-EL-2025-0001"]["holder_uscc"] == USCC
        assert files["BA-EL-2025-0002"]["status"] == "surrendered"  # marked, not in titles
        assert files["BA-EL-2025-0002"]["in_force"] is False
        assert files["BA-EL-2025-0003"]["status"] == "received"  # applied for, not granted
        listed = await list_views(store, "projects", {})
        assert listed.items == [project]
        title = await get_view(store, "approvals", "BA-EL-2025-0002")
        assert title is not None
        assert title["project_id"] == PROJECT
    finally:
        await store.close()


async def test_before_the_grant_the_application_is_listed_but_not_a_title(tmp_path):
    store = await _store(tmp_path, _steps()[:2])
    try:
        project = await get_view(store, "projects", PROJECT)
        assert project is not None
        assert project["titles"] == ["BA-EL-2024-0099"]
        assert [(f["title_number"], f["status"]) for f in project["title_files"]] == [
            ("BA-EL-2024-0099", None), ("BA-EL-2025-0001", "received")]
    finally:
        await store.close()


async def test_titles_are_the_same_in_every_read_order(tmp_path):
    answers = []
    for seed in range(4):
        store = await _store(tmp_path, _steps(), shuffle=seed)
        try:
            answers.append(await get_view(store, "projects", PROJECT))
        finally:
            await store.close()
    assert all(a == answers[0] for a in answers)
    assert answers[0] is not None
    assert answers[0]["titles"] == ["BA-EL-2024-0099", "BA-EL-2025-0001"]


def test_a_grant_naming_a_project_of_another_province_is_invalid():
    with pytest.raises(ValidationError, match="project_province_mismatch"):
        _grant("BA-EL-2025-0001", date(2025, 3, 1), project_id="PRJ-SD-THR-0001")


async def test_a_converted_licence_gives_way_to_its_lease(tmp_path):
    converted = scenario.event("pk.emining.approval.licence.converted",
                               title_number="BA-EL-2025-0001", holder_uscc=USCC,
                               new_title_number="BA-ML-2028-0012", converted_on="2028-01-15",
                               term_years=30, expires_on="2058-01-14")
    store = await _store(tmp_path, [*_steps()[:3], (scenario.BA_MMDD, converted)])
    try:
        project = await get_view(store, "projects", PROJECT)
        assert project is not None
        assert project["titles"] == ["BA-EL-2024-0099", "BA-ML-2028-0012"]
        files = {f["title_number"]: f for f in project["title_files"]}
        assert files["BA-EL-2025-0001"]["status"] == "converted"
        assert files["BA-EL-2025-0001"]["converted_to"] == "BA-ML-2028-0012"
        assert files["BA-ML-2028-0012"]["status"] is None  # not on the bus yet
    finally:
        await store.close()
