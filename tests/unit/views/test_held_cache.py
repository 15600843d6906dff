"""The held records a batch leaves are carried to the next in memory (this process is the
store's one writer); a batch that fails reads them from the store again."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from consumers.digest import digest
from consumers.dlq import DeadLetterQueue
from consumers.store import ViewStore
from consumers.sync import ViewSync
from tests.integration.views import scenario
from tests.unit.views.harness import stage_for
from tests.unit.views.test_interleaving import LOG, Control, _baseline, _in_turn


class Rereading(Control):
    """The consumer after a failed batch: moved back to read it again (the test feeds it)."""

    def seek(self, partition: Any, offset: int) -> None:
        pass


class Flaky(DeadLetterQueue):
    """A DLQ whose sends fail when told to: the batch's transaction rolls back."""

    fail = False

    async def send(self, letters: Any) -> None:
        if self.fail:
            raise ConnectionError("the DLQ is down")
        await super().send(letters)


async def _read(tmp: Path, fail_at: set[int]) -> tuple[dict[str, Any], int]:
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / f'views-{uuid.uuid4().hex}.db'}")
    await store.open()
    dlq = Flaky(None, "dlq", "t")
    sync = ViewSync(store, stage_for(scenario.registry()), dlq)
    order, failures = _in_turn(LOG), 0
    for k, at in enumerate(range(0, len(order), 9)):
        batch = order[at:at + 9]
        if k in fail_at:
            dlq.fail = True
            try:
                await sync.apply(batch, Rereading(LOG))
            except ConnectionError:
                failures += 1
            dlq.fail = False
        await sync.apply(batch, Rereading(LOG))
    result = (await digest(store)).as_dict()
    await store.close()
    return result, failures


def test_a_failed_batch_reads_the_held_records_again_and_ends_with_the_same_views(
        tmp_path: Path) -> None:
    base = _baseline(tmp_path)
    for fail_at in ({1}, {2, 3}, set(range(0, 8, 2))):
        got, failures = asyncio.run(_read(tmp_path, fail_at))
        assert failures == len(fail_at)
        assert got == base["digest"], fail_at


async def _prepared(tmp: Path, narrow: bool, monkeypatch: Any) -> tuple[dict[str, Any], int]:
    """Views and how many held records ``Gate.prefetch`` prepared, with the places given
    (``narrow``) or without (every held record of the batch's sources, the older way)."""
    from consumers.holding import Gate  # noqa: PLC0415 - patched per run

    original = Gate.prefetch
    prepared = 0

    async def prefetch(self: Gate, sources: Any, subjects: Any, places: Any = None) -> None:
        nonlocal prepared
        before = len(self.verdicts)
        await original(self, sources, subjects, places if narrow else None)
        prepared += len(self.verdicts) - before

    monkeypatch.setattr(Gate, "prefetch", prefetch)
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / f'views-{uuid.uuid4().hex}.db'}")
    await store.open()
    sync = ViewSync(store, stage_for(scenario.registry()), DeadLetterQueue(None, "dlq", "t"))
    order = _in_turn(LOG)
    for at in range(0, len(order), 9):
        await sync.apply(order[at:at + 9], Rereading(LOG))
    result = (await digest(store)).as_dict()
    await store.close()
    monkeypatch.setattr(Gate, "prefetch", original)
    return result, prepared


def test_the_prefetch_prepares_only_what_a_batch_can_release_and_changes_no_view(
        tmp_path: Path, monkeypatch: Any) -> None:
    base = _baseline(tmp_path)
    narrow, few = asyncio.run(_prepared(tmp_path, True, monkeypatch))
    wide, many = asyncio.run(_prepared(tmp_path, False, monkeypatch))
    assert narrow == wide == base["digest"]
    assert 0 < few < many
