"""The console's audit pages inside ``emining serve`` (``infra.compose.console_audit.LogAudit``)
over a real log: verify sees every record, the state as of a day cuts where ``audit replay --as-of``
cuts, and a second asker within ``fresh_s`` reuses the answer instead of reading the log again."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from consumers.audit.state import summary
from consumers.store import ViewStore
from consumers.views.standing import local_day
from infra.compose.console_audit import LogAudit, end_of_day
from schemas.timing import TimeBounds
from tests.unit.audit.scenario import Story

pytestmark = pytest.mark.integration


def _audit(kafka_access, parties, bus, fresh_s: float = 30.0) -> LogAudit:
    audit = LogAudit.of(kafka_access, parties.trust_anchor, timeout_s=15.0, bounds=TimeBounds(),
                        topics=bus.topics)
    audit.fresh_s = fresh_s
    return audit


async def test_verify_reads_every_record_and_is_reused_while_fresh(kafka_access, bus, parties):
    story = Story(seed=5)
    for i in range(3):
        story.project(i)
    results = await bus.steps(sorted(story.steps, key=lambda s: s.time))
    audit = _audit(kafka_access, parties, bus)
    report = await audit.verify()
    assert report.ok, report.violations
    assert report.records == len(results) + len(parties.registry_events())
    assert await audit.verify() is report  # fresh: not read again

    more = await bus.steps(sorted(_more(), key=lambda s: s.time))
    assert await audit.verify() is report  # still fresh: the same answer, the log not read
    stale = _audit(kafka_access, parties, bus, fresh_s=0.0)
    again = await stale.verify()
    assert again.records == report.records + len(more)
    assert await stale.verify() is not again  # not fresh: read again


def _more() -> list:
    story = Story(seed=9)
    story.project(40)
    return story.steps


async def test_state_as_of_a_day_counts_what_was_dated_by_then(
    kafka_access, bus, parties, tmp_path,
) -> None:
    story = Story(seed=7)
    for i in (0, 1, 24, 36):  # registered 2 h apart per i: two on the first day, two later
        story.project(i)
    steps = sorted(story.steps, key=lambda s: s.time)
    await bus.steps(steps)
    audit = _audit(kafka_access, parties, bus)
    # The history was appended today: as recorded on its own days, the platform held nothing.
    first_day = local_day(steps[0].time)
    assert _total(await audit.state_as_of(first_day, False)) == 0
    # Dated by the end of the first day, whenever appended: exactly those steps' projects.
    on_first_day = {s.data.subject for s in steps
                    if s.time <= end_of_day(first_day) and s.data.TOPIC.endswith("projects.v1")}
    projects = (await audit.state_as_of(first_day, True))["projects"]
    assert sum(projects.values()) == len(on_first_day) == 2
    # Everything: the same counts as a summary of a full rebuild of the views.
    last_day = local_day(steps[-1].time) + timedelta(days=1)
    whole = await audit.state_as_of(last_day, True)
    assert whole == await _rebuilt(bus, parties, tmp_path, last_day)
    assert sum(whole["projects"].values()) == 4


def _total(state: dict[str, dict[str, int]]) -> int:
    return sum(n for family, counts in state.items() if family != "approvals_standing"
               for n in counts.values())


async def _rebuilt(bus, parties, tmp_path, day: date) -> dict[str, dict[str, int]]:
    from consumers.audit.replay import replay  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'whole.db'}"
    await replay(bus.kafka, parties.trust_anchor, url, topics=bus.topics)
    store = ViewStore(url)
    try:
        await store.open()
        return await summary(store, day)
    finally:
        await store.close()
