"""The views' retry policies (tenacity): opening the store, and a rebuild's failing batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from consumers.rebuild import MAX_ATTEMPTS, RebuildError, _next_batch
from consumers.store import SchemaMismatchError, ViewStore
from consumers.sync import BatchOutcome


def _db_error() -> DBAPIError:
    return DBAPIError("CREATE TABLE views_meta", None, Exception("table views_meta exists"))


class Flaky:
    """``ViewStore._open`` failing with the given errors first, then answering ``live``."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    async def __call__(self, check_version: bool, check_views: bool) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "a"


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    views = ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}")
    yield views
    await views.close()


async def test_opening_tries_a_database_error_again(store: ViewStore) -> None:
    store._open = flaky = Flaky(_db_error(), _db_error())  # type: ignore[method-assign]
    assert await store.open() == "a"
    assert flaky.calls == 3


async def test_opening_raises_the_third_database_error_as_it_is(store: ViewStore) -> None:
    third = _db_error()
    store._open = flaky = Flaky(_db_error(), _db_error(), third)  # type: ignore[method-assign]
    with pytest.raises(DBAPIError) as raised:
        await store.open()
    assert raised.value is third
    assert flaky.calls == 3


async def test_opening_does_not_retry_a_store_of_another_version(store: ViewStore) -> None:
    store._open = flaky = Flaky(SchemaMismatchError("rebuild"))  # type: ignore[method-assign]
    with pytest.raises(SchemaMismatchError):
        await store.open()
    assert flaky.calls == 1


async def test_a_real_store_opens_with_its_first_generation(store: ViewStore) -> None:
    assert await store.open() == "a"


class Consumer:
    """``getmany`` answers: records, nothing (``{}``), or an exception. Nothing assigned: no
    position ever moves."""

    def __init__(self, *answers: Any) -> None:
        self.answers, self.fetches = list(answers), 0

    def assignment(self) -> set[Any]:
        return set()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[int]]:
        self.fetches += 1
        answer = self.answers.pop(0) if self.answers else {}
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)


class Sync:
    """``apply`` failing with the given errors first, then applying every record."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.batches = list(errors), []

    async def apply(self, records: list[int], consumer: Any) -> BatchOutcome:
        self.batches.append(records)
        if self.errors:
            raise self.errors.pop(0)
        return BatchOutcome(applied=len(records))


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def always() -> bool:
    return True


async def test_a_failing_batch_is_fetched_and_applied_again_with_growing_pauses() -> None:
    consumer = Consumer({"p0": [1, 2]}, {"p0": [1, 2]}, {}, {"p0": [1, 2, 3]})
    sync, sleeps = Sync(RuntimeError("locked"), RuntimeError("locked")), Sleeps()
    outcome = await _next_batch(consumer, sync, 10, always, sleeps,  # type: ignore[arg-type]
                                timeout_s=5.0)
    assert outcome == BatchOutcome(applied=3)
    assert sync.batches == [[1, 2], [1, 2], [1, 2, 3]]  # an empty fetch is not an attempt
    assert sleeps.delays == [1, 2]


async def test_a_batch_failing_every_time_stops_the_rebuild_after_max_attempts() -> None:
    consumer = Consumer(*[{"p0": [7]}] * 10)
    errors = [RuntimeError(f"failure {n}") for n in range(1, 11)]
    sync, sleeps = Sync(*errors), Sleeps()
    with pytest.raises(RebuildError) as raised:
        await _next_batch(consumer, sync, 10, always, sleeps,  # type: ignore[arg-type]
                          timeout_s=5.0)
    assert len(sync.batches) == MAX_ATTEMPTS == 5
    assert sleeps.delays == [1, 2, 3, 4]
    assert str(raised.value) == "a batch failed 5 times: RuntimeError('failure 5')"
    assert raised.value.__cause__ is errors[4]


async def test_a_fetch_error_is_not_retried() -> None:
    lost = ConnectionError("broker gone")
    consumer, sync, sleeps = Consumer(lost), Sync(), Sleeps()
    with pytest.raises(ConnectionError) as raised:
        await _next_batch(consumer, sync, 10, always, sleeps,  # type: ignore[arg-type]
                          timeout_s=5.0)
    assert raised.value is lost
    assert (consumer.fetches, sync.batches, sleeps.delays) == (1, [], [])


async def test_nothing_pending_is_the_end_of_the_replay() -> None:
    async def nothing() -> bool:
        return False

    consumer, sync = Consumer({"p0": [1]}), Sync()
    assert await _next_batch(consumer, sync, 10, nothing, Sleeps(),  # type: ignore[arg-type]
                             timeout_s=5.0) is None
    assert consumer.fetches == 0


async def test_a_stalled_fetch_ends_the_rebuild_with_a_reason_and_is_not_retried() -> None:
    """The broker went away: fetches bring nothing, nothing moves, the end is not reached."""
    consumer, sync, sleeps = Consumer(), Sync(), Sleeps()
    with pytest.raises(RebuildError, match=r"^the replay stalled: no records from \[\] and no"
                       r" position moved for 0\.2s \(bound 0\.2s\): is the broker up\?$"):
        await _next_batch(consumer, sync, 10, always, sleeps,  # type: ignore[arg-type]
                          timeout_s=0.2)
    assert consumer.fetches > 1
    assert (sync.batches, sleeps.delays) == ([], [])
