"""The view consumer's lag gauge covers every partition it is assigned, from the moment it is
assigned: those behind show how far (the log's end minus the stored offset) before any batch is
applied, idle ones (empty, or applied up to their end by an earlier run) show 0, not nothing."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from consumers.config import ViewTopics
from consumers.metrics import VIEW_LAG
from consumers.sync import ViewSync
from tests.integration.views import scenario
from tests.integration.views.conftest import Bus, caught_up, config_for, end_offsets, running
from tests.integration.views.test_views_kafka_offsets import store_offsets
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration


def lag_of(topics: ViewTopics) -> dict[tuple[str, int], float]:
    """The gauge's series for ``topics`` (the gauge is the process's: other tests' topics too)."""
    mine = set(topics.consumed())
    return {(s.labels["topic"], int(s.labels["partition"])): s.value
            for metric in VIEW_LAG.collect() for s in metric.samples
            if s.labels["topic"] in mine}


async def lag_settles(topics: ViewTopics, want: dict[tuple[str, int], int],
                      timeout_s: float = 60.0) -> dict[tuple[str, int], float]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        seen = lag_of(topics)
        if seen == want or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.2)


async def test_every_assigned_partition_has_its_lag_before_any_batch_idle_ones_at_0(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    config = config_for(kafka_access, view_topics, store_url)
    consumed = list(view_topics.consumed())
    await bus.rounds([[step] for step in scenario.story(0).steps])
    async with running(config):
        applied = await caught_up(store_url, config)
    partitions = await end_offsets(kafka_access, consumed)
    assert len(partitions) == 9
    assert 0 in partitions.values(), "some partition never had a record"

    # An idle restart: nothing new, so no batch at all; every partition still has its series.
    for key in partitions:  # (the revocation at the stop may have dropped them already)
        with contextlib.suppress(KeyError):
            VIEW_LAG.remove(key[0], str(key[1]))
    assert lag_of(view_topics) == {}
    async with running(config):
        assert await lag_settles(view_topics, dict.fromkeys(partitions, 0)) == dict.fromkeys(
            partitions, 0)

    # Records arrive while the consumer is down; on its next start no batch may be applied
    # until the test says so: the lag it shows then can only come from the assignment.
    await bus.rounds([[step] for step in scenario.story(1).steps])
    ends = await end_offsets(kafka_access, consumed)
    behind = {key: ends[key] - applied.get(key, 0) for key in partitions}
    assert any(behind.values())
    assert 0 in behind.values(), "an idle partition beside busy ones"
    gate = asyncio.Event()
    original = ViewSync.apply

    async def gated(self, records, control):
        await gate.wait()
        return await original(self, records, control)

    monkeypatch.setattr(ViewSync, "apply", gated)
    async with running(config):
        assert await lag_settles(view_topics, behind) == behind
        assert await store_offsets(store_url) == applied  # nothing was applied meanwhile
        gate.set()
        await caught_up(store_url, config)
        assert await lag_settles(view_topics, dict.fromkeys(partitions, 0)) == dict.fromkeys(
            partitions, 0)
