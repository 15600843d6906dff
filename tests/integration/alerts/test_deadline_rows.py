"""A batch's deadlines replaced in two statements (``replace_all_deadlines``), on SQLite and
PostgreSQL: each subject ends with exactly its wanted pending deadlines, fired ones untouched,
other subjects untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from consumers.alerts import tables as t
from consumers.alerts.model import Deadline
from consumers.alerts.store import AlertStore, Placed, replace_all_deadlines
from consumers.store import ViewStore
from schemas.alerts import AlertRule
from tests.integration.views.conftest import fresh_database, postgres_url  # noqa: F401

pytestmark = pytest.mark.integration

AT = datetime(2026, 5, 10, 4, tzinfo=UTC)
RULE = AlertRule.LICENCE_EXPIRING


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlertStore]:
    url = (f"sqlite:///{tmp_path / 'views.sqlite'}" if request.param == "sqlite"
           else await fresh_database(request.getfixturevalue("postgres_url")))
    alerts = AlertStore(ViewStore(url))
    await alerts.open()
    try:
        yield alerts
    finally:
        await alerts.views.close()


def _placed(subject: str, key: str, partition: int = 0) -> Placed:
    deadline = Deadline(RULE, subject, AT, date(2029, 1, 31), f"{RULE.value}:{subject}:{key}",
                        {"days": "30"})
    return Placed(deadline, "emining.approvals.v1", partition)


async def _rows(store: AlertStore) -> set[tuple[str, str, int, bool]]:
    dt = t.deadlines
    async with store.writing() as conn:
        rows = await conn.execute(select(dt.c.subject, dt.c.key, dt.c.log_partition,
                                         dt.c.fired_at))
        return {(r.subject, r.key.rsplit(":", 1)[1], r.log_partition, r.fired_at is not None)
                for r in rows}


async def test_each_subject_ends_with_its_wanted_deadlines_and_fired_ones_stay(
        store: AlertStore) -> None:
    async with store.writing() as conn:
        for subject, keys in (("A", "12"), ("B", "12"), ("C", "1")):
            await replace_all_deadlines(conn, {subject: [_placed(subject, k) for k in keys]})
        await conn.execute(update(t.deadlines).where(t.deadlines.c.key.like("%:A:2"))
                           .values(fired_at="2026-05-01T00:00:00Z"))
    async with store.writing() as conn:
        await replace_all_deadlines(conn, {
            "A": [_placed("A", "1", 2), _placed("A", "2", 2), _placed("A", "3", 2)],
            "B": [],
        })
    assert await _rows(store) == {
        ("A", "1", 2, False),  # still wanted: moved to where the subject's events now live
        ("A", "2", 0, True),  # fired: never touched, not even its partition
        ("A", "3", 2, False),  # new
        ("C", "1", 0, False),  # another subject: untouched; B's pending ones are gone
    }


async def test_a_batch_gives_what_one_subject_at_a_time_gives(store: AlertStore) -> None:
    """The same changes through the per-subject path and the batch path, on two stores' worth of
    subjects ("X…" and "Y…"), end in the same rows."""
    first = {s: [_placed(s, k) for k in "123"] for s in ("X1", "X2", "Y1", "Y2")}
    later = {"1": [_placed("1", "2", 1), _placed("1", "4", 1)], "2": [], "3": [_placed("3", "1")]}
    async with store.writing() as conn:
        await replace_all_deadlines(conn, first)
    async with store.writing() as conn:
        for subject, placed in later.items():
            await replace_all_deadlines(  # one subject a statement
                conn, {f"X{subject}": [_re(p, f"X{subject}") for p in placed]})
        await replace_all_deadlines(conn, {f"Y{s}": [_re(p, f"Y{s}") for p in placed]
                                           for s, placed in later.items()})
    rows = await _rows(store)
    xs = {(s[1:], k, p, f) for s, k, p, f in rows if s.startswith("X")}
    ys = {(s[1:], k, p, f) for s, k, p, f in rows if s.startswith("Y")}
    assert xs == ys == {("1", "2", 1, False), ("1", "4", 1, False), ("3", "1", 0, False)}


def _re(placed: Placed, subject: str) -> Placed:
    """``placed`` for ``subject`` (its key names the subject, as the rules' keys do)."""
    key = placed.deadline.key.rsplit(":", 1)[1]
    return _placed(subject, key, placed.partition)


async def test_a_batch_of_thousands_of_subjects_is_replaced_in_one_go(store: AlertStore) -> None:
    """3,000 licences with three reminders each: one pair list for all of them was too deep for
    PostgreSQL's parser ("stack depth limit exceeded"); the DELETE goes in slices of subjects."""
    subjects = [f"L{n:05d}" for n in range(3000)]
    async with store.writing() as conn:
        await replace_all_deadlines(conn, {s: [_placed(s, k) for k in "123"] for s in subjects})
    async with store.writing() as conn:
        await replace_all_deadlines(conn, {s: [_placed(s, k, 1) for k in "34"] for s in subjects})
    rows = await _rows(store)
    assert len(rows) == 6000
    assert {(k, p) for _, k, p, _ in rows} == {("3", 1), ("4", 1)}
