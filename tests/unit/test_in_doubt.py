"""Records in doubt (sent, no acknowledgement) are looked up only once nothing can still land
them: the session that lost them has stopped, and what the leaders appended is committed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from producers import publisher as publisher_module
from producers.chainstore import Acknowledged
from producers.gateway_custody import _ObservedSender
from producers.log_lookup import _partitions_of_keys
from producers.publisher import Draft, Publisher
from schemas.catalogue import model_for
from schemas.signing import PrivateKey
from tests.unit.helpers import example
from transport.access import KafkaAccess
from transport.errors import PublishError
from transport.kafka import TopicPartition
from transport.meta import key_partition
from transport.read import readable_through
from transport.sender import Ack, RecordSender

ORG = "urn:emining:cn:ent:in-doubt-test"
MILESTONE = "pk.emining.project.milestone.reached"


class _Sessions(RecordSender):
    """A sender without a broker: sessions are numbered; ``lose`` sends lose every record (the
    session goes stale, as a real one does); ``hold`` keeps a send in flight until released."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(KafkaAccess("127.0.0.1:9"), timeout_s=2.0)
        self.events = events
        self.session = 0
        self.lose = False
        self.release = asyncio.Event()

    async def _start_producer(self) -> None:
        self.session += 1
        self._producer = object()  # type: ignore[assignment]
        self._lost = False
        self.events.append(f"start {self.session}")

    async def _stop_producer(self) -> None:
        if self._producer is not None:
            self.events.append(f"stop {self.session}")
        self._producer = None

    async def _send(self, records: Any, results: Any) -> list[Ack | str]:
        out = [None] * len(records) if results is None else results
        if not records:  # another publisher's send, held in flight on this session
            await self.release.wait()
            return []
        self.events.append(f"send {len(records)} on {self.session}")
        if self.lose:
            out[:] = ["no acknowledgement within 2s"] * len(records)
            self._lost = self._stale = True
        else:
            out[:] = [Ack(r.topic, 0, i) for i, r in enumerate(records)]
        return list(out)


class _Custody:
    """What the gateway's wrapper tells custody: nothing to keep here."""

    def saw_signed(self, records: Any) -> None:
        pass

    def saw_results(self, records: Any, results: Any) -> None:
        pass


@pytest.mark.parametrize("through", ["sdk", "gateway"])
async def test_a_shared_session_that_lost_records_stops_before_they_are_looked_up(
        tmp_path, monkeypatch, through):
    events: list[str] = []

    async def find_ids(*args: Any, **kwargs: Any) -> dict[str, tuple[str, int, int]]:
        events.append("look up")
        return {}

    monkeypatch.setattr(publisher_module, "find_ids", find_ids)
    sender = _Sessions(events)
    await sender.start()
    key = PrivateKey.generate(ORG)
    data = example(model_for(MILESTONE))
    # The gateway's custodial publishers see the shared sender through a wrapper.
    seen = sender if through == "sdk" else _ObservedSender(sender, _Custody())  # type: ignore[arg-type]
    async with Publisher(key=key, source=f"{ORG}/sdk", state_dir=tmp_path, sender=seen) as pub:
        other = asyncio.create_task(sender.send([]))  # another source's send, still in flight
        await asyncio.sleep(0)
        sender.lose = True
        with pytest.raises(PublishError, match="1 of 1 events not acknowledged"):
            await pub.publish_many([Draft(data, event_id="evt-lost")])
        # The other send keeps the session that lost the record open: it could still land it.
        assert events == ["start 1", "send 1 on 1"]
        sender.lose = False
        asyncio.get_running_loop().call_later(0.2, sender.release.set)
        [result] = await pub.publish_many([Draft(data, event_id="evt-next")])
        await other
        assert isinstance(pub.known("evt-lost"), Acknowledged)
    assert result.sequence == 2
    # Stopped (once the other send ended) before the look-up, then re-sent, then the new one.
    assert events == ["start 1", "send 1 on 1", "stop 1", "start 2", "look up",
                      "send 1 on 2", "send 1 on 2"]
    await sender.stop()


class _Ends:
    """A consumer whose end offsets move as ``steps`` say, one step per request."""

    def __init__(self, *steps: dict[TopicPartition, int]) -> None:
        self.steps = list(steps)
        self.asked = 0

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        step = self.steps[min(self.asked, len(self.steps) - 1)]
        self.asked += 1
        return {tp: step[tp] for tp in tps}


A, B = TopicPartition("t", 0), TopicPartition("t", 1)


async def test_readable_through_waits_until_every_partition_reaches_what_was_appended():
    consumer = _Ends({A: 4, B: 7}, {A: 5, B: 7}, {A: 6, B: 8})
    ends = await readable_through(consumer, {A: 5, B: 7}, timeout_s=5.0,  # type: ignore[arg-type]
                                  poll_s=0.01)
    assert ends == {A: 5, B: 7}
    assert consumer.asked == 2


async def test_readable_through_names_what_stays_uncommitted():
    consumer = _Ends({A: 4, B: 7})
    with pytest.raises(TimeoutError, match=r"t\[0\] readable to 4, appended to 5$"):
        await readable_through(consumer, {A: 5, B: 7}, timeout_s=0.2,  # type: ignore[arg-type]
                               poll_s=0.05)
    assert consumer.asked >= 3


def test_the_wait_covers_the_partitions_the_keys_went_to():
    tps = [TopicPartition("t", p) for p in range(6)]
    keys = [b"PRJ-1", b"PRJ-2"]
    chosen = sorted({key_partition(k, 6) for k in keys})
    assert [tp.partition for tp in _partitions_of_keys(tps, keys)] == chosen
    assert len(chosen) < 6  # else the test would not tell "some" from "all"
    assert _partitions_of_keys(tps, None) == tps
    assert _partitions_of_keys(tps, [b"PRJ-1", None]) == tps  # a record without a key: anywhere
