"""A gap is alerted only once it stayed open past the grace (``ViewSync(gap_grace_s=...)``).

While a partition has no leader (a broker's failover) a source's next event, on another
partition, can reach the consumer before its predecessor: the consumer holds it (a gap) and is
at the end of every partition it sees. Alerting at once raised a critical alert that the
predecessor, landing seconds later, made false. The clock is injected: no test sleeps.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.store import ViewStore
from consumers.sync import ViewSync
from consumers.verification import Reason
from schemas.envelope import Envelope, to_record
from schemas.envelope_read import from_record
from tests.integration.views import scenario
from tests.unit.views.harness import Record, WholeLogControl, stage_for
from tests.unit.views.test_holding_attacks import STEPS, Chains, Logs, _layout

GRACE_S = 60.0


def _late_predecessor() -> tuple[Logs, Logs, Record]:
    """The whole log; the log while the predecessor is not written yet (a partition without
    leader); the predecessor: the last record of its partition, its source's next event is on
    another partition."""
    c = Chains()
    envs: list[Envelope] = [c.step(i) for i in range(len(STEPS))]
    full = _layout(envs)
    by_place = {(e.source, e.sequence): e for e in envs}
    for tp in sorted(full):
        last = full[tp][-1]
        env = next(e for e in envs if (e.source, e.sequence) in by_place
                   and _key(e) == (last.key, last.value))
        after = by_place.get((env.source, env.sequence + 1))
        if after is not None and not any(_key(after) == (r.key, r.value) for r in full[tp]):
            partial = {k: (v[:-1] if k == tp else v) for k, v in full.items()}
            return full, {k: v for k, v in partial.items() if v}, last
    raise AssertionError("the scenario has a source writing to two partitions")


def _key(env: Envelope) -> tuple[bytes | None, bytes]:
    kafka = to_record(env)
    return kafka.key, kafka.value


class Clock:
    def __init__(self) -> None:
        self.start = datetime.now(UTC)
        self.offset = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.offset)


async def _consumer(tmp: Path, clock: Clock) -> tuple[ViewSync, ViewStore, list[DeadLetter]]:
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / uuid.uuid4().hex}.db")
    await store.open()
    letters: list[DeadLetter] = []

    async def hook(letter: DeadLetter) -> None:
        letters.append(letter)

    sync = ViewSync(store, stage_for(scenario.registry()),
                    DeadLetterQueue(None, "dlq", "t", hooks=[hook]),
                    gap_grace_s=GRACE_S, clock=clock)
    return sync, store, letters


def _gaps(letters: list[DeadLetter]) -> list[tuple[str, str]]:
    return [(lt.rejection.source or "", lt.rejection.event_id or "") for lt in letters
            if lt.rejection.reason is Reason.SEQUENCE_GAP]


async def _held(store: ViewStore) -> list[tuple[str, int, str]]:
    async with store.reading() as (conn, tables):
        return [(r.source, r.sequence, r.reason) for r in
                await conn.execute(select(tables.held))]


async def test_a_gap_filled_within_the_grace_raises_no_alert(tmp_path: Path) -> None:
    full, partial, late = _late_predecessor()
    clock = Clock()
    sync, store, letters = await _consumer(tmp_path, clock)
    await sync.apply([r for tp in sorted(partial) for r in partial[tp]], WholeLogControl(partial))
    assert [h for h in await _held(store) if h[2] == "sequence_gap"]  # held, caught up
    assert _gaps(letters) == []  # yet younger than the grace: no alert
    clock.offset = GRACE_S - 1
    await sync.apply([late], WholeLogControl(full))  # the predecessor lands
    assert await _held(store) == []  # the gap closed: everything released
    clock.offset = GRACE_S * 3
    await sync.apply([late], WholeLogControl(full))  # later batches: nothing to alert
    assert _gaps(letters) == []
    await store.close()


async def test_a_gap_open_past_the_grace_raises_one_alert(tmp_path: Path) -> None:
    _, partial, _ = _late_predecessor()  # the predecessor never comes
    clock = Clock()
    sync, store, letters = await _consumer(tmp_path, clock)
    records = [r for tp in sorted(partial) for r in partial[tp]]
    control = WholeLogControl(partial)
    await sync.apply(records, control)
    gap = [h for h in await _held(store) if h[2] == "sequence_gap"]
    assert len(gap) == 1
    clock.offset = GRACE_S - 1
    await sync.apply(records[-1:], control)  # a later batch (here: a record read again)
    assert _gaps(letters) == []
    clock.offset = GRACE_S + 1
    await sync.apply(records[-1:], control)  # past the grace: alerted
    source, sequence, _ = gap[0]
    alerted = _gaps(letters)
    assert alerted == [(source, _event_id(partial, source, sequence))]
    clock.offset = GRACE_S * 5
    await sync.apply(records[-1:], control)  # once only
    assert _gaps(letters) == alerted
    await store.close()


def _event_id(logs: Logs, source: str, sequence: int) -> str:
    for items in logs.values():
        for r in items:
            env = from_record(r.key, r.value, list(r.headers))
            if env.source == source and env.sequence == sequence:
                return env.id
    raise AssertionError("no such event")


async def test_a_restarted_consumer_counts_the_grace_from_the_stored_hold_time(
        tmp_path: Path) -> None:
    _, partial, _ = _late_predecessor()
    clock = Clock()
    sync, store, letters = await _consumer(tmp_path, clock)
    records = [r for tp in sorted(partial) for r in partial[tp]]
    control = WholeLogControl(partial)
    await sync.apply(records, control)
    async with store.reading() as (conn, tables):
        stored = [r.held_at for r in await conn.execute(select(tables.held))]
    assert stored
    assert all(clock.start <= datetime.fromisoformat(t) <= datetime.now(UTC) for t in stored)
    # another process (a restart) reads the held records from the store, not from memory

    async def hook(letter: DeadLetter) -> None:
        letters.append(letter)

    again = ViewSync(store, stage_for(scenario.registry()),
                     DeadLetterQueue(None, "dlq", "t", hooks=[hook]),
                     gap_grace_s=GRACE_S, clock=clock)
    clock.offset = GRACE_S - 1
    await again.apply(records[-1:], control)
    assert _gaps(letters) == []  # the stored hold time counts, not the restart
    clock.offset = GRACE_S + 1
    await again.apply(records[-1:], control)
    assert len(_gaps(letters)) == 1
    await store.close()


async def test_the_sweep_alerts_a_gap_of_a_quiet_source_without_a_further_batch(
        tmp_path: Path) -> None:
    _, partial, _ = _late_predecessor()
    clock = Clock()
    sync, store, letters = await _consumer(tmp_path, clock)
    await sync.apply([r for tp in sorted(partial) for r in partial[tp]], WholeLogControl(partial))
    assert await sync.sweep_gaps() == 0  # within the grace
    clock.offset = GRACE_S - 1
    assert await sync.sweep_gaps() == 0
    assert _gaps(letters) == []
    clock.offset = GRACE_S + 1  # the bus went quiet: no batch, the sweep alerts
    assert await sync.sweep_gaps() == 1
    (source, sequence, _), = [h for h in await _held(store) if h[2] == "sequence_gap"]
    assert _gaps(letters) == [(source, _event_id(partial, source, sequence))]
    clock.offset = GRACE_S * 5
    assert await sync.sweep_gaps() == 0  # once only, by sweep or batch
    await sync.apply([r for tp in sorted(partial) for r in partial[tp]][-1:],
                     WholeLogControl(partial))
    assert len(_gaps(letters)) == 1
    await store.close()


async def test_the_sweep_waits_while_the_consumer_is_behind(tmp_path: Path) -> None:
    full, partial, _ = _late_predecessor()
    clock = Clock()
    sync, store, letters = await _consumer(tmp_path, clock)
    # the predecessor is on the log (its partition's end is past what was read): not news
    await sync.apply([r for tp in sorted(partial) for r in partial[tp]], WholeLogControl(full))
    clock.offset = GRACE_S * 2
    assert await sync.sweep_gaps() == 0
    assert _gaps(letters) == []
    await store.close()
