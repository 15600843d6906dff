"""Records in doubt (sent, no acknowledgement) are looked up only once nothing can still land
them: the session that lost them has stopped, and what the leaders appended is committed."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from aiokafka.partitioner import DefaultPartitioner

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
from transport.offsets import appended_ends, leader_ends, readable_through
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


NOT_LEADER, OFFSET_NOT_AVAILABLE = 6, 78


class _Brokers:
    """A consumer's client without a broker: ListOffsets answered from ``consumer`` (a
    consumer's request: the high watermark) and ``log`` (a debugging replica's: the log end),
    each a list of steps, one per request of that kind; an ``int`` step entry is the offset, a
    ``str`` one an error code. ``leaders`` is where the metadata says each partition is, one
    entry per metadata renewal."""

    def __init__(self, consumer: list[dict[TopicPartition, Any]],
                 log: list[dict[TopicPartition, Any]] | None = None,
                 leaders: list[int] | None = None) -> None:
        self.steps = {-1: consumer, -2: log or []}
        self.asked = {-1: 0, -2: 0}
        self.leaders = leaders or [1]
        self.renewed = 0
        self.sent_to: list[tuple[int, int]] = []
        self.cluster = self
        self._client = self  # the consumer is its own client here

    def leader_for_partition(self, tp: TopicPartition) -> int:
        return self.leaders[min(self.renewed, len(self.leaders) - 1)]

    def add_topic(self, topic: str) -> None:
        pass

    async def force_metadata_update(self) -> bool:
        self.renewed += 1
        return True

    async def send(self, node: int, request: Any) -> Any:
        replica = request._replica_id
        steps = self.steps[replica]
        step = steps[min(self.asked[replica], len(steps) - 1)]
        self.asked[replica] += 1
        self.sent_to.append((node, replica))
        answers = []
        for topic, partitions in request._topics:
            part = []
            for partition, _latest in partitions:
                value = step[TopicPartition(topic, partition)]
                if isinstance(value, str):
                    part.append((partition, int(value), -1, -1))
                else:
                    part.append((partition, 0, -1, value))
            answers.append((topic, part))
        return SimpleNamespace(topics=answers)


A, B = TopicPartition("t", 0), TopicPartition("t", 1)


async def test_readable_through_waits_until_every_partition_reaches_what_was_appended():
    brokers = _Brokers([{A: 4, B: 7}, {A: 5, B: 7}, {A: 6, B: 8}])
    ends = await readable_through(brokers, {A: 5, B: 7}, timeout_s=5.0,  # type: ignore[arg-type]
                                  poll_s=0.01)
    assert ends == {A: 5, B: 7}
    assert brokers.asked[-1] == 2


async def test_readable_through_names_what_stays_uncommitted():
    brokers = _Brokers([{A: 4, B: 7}])
    with pytest.raises(TimeoutError, match=r"t\[0\] readable to 4, appended to 5$"):
        await readable_through(brokers, {A: 5, B: 7}, timeout_s=0.2,  # type: ignore[arg-type]
                               poll_s=0.05)
    assert brokers.asked[-1] >= 3


async def test_a_new_leader_unsure_of_its_high_watermark_is_asked_again():
    brokers = _Brokers([{A: str(OFFSET_NOT_AVAILABLE)}, {A: 9}])
    assert await leader_ends(brokers, [A], appended=False, timeout_s=5.0) == {A: 9}  # type: ignore[arg-type]
    assert brokers.renewed == 1


async def test_a_log_end_counts_only_from_the_partitions_leader():
    # Node 1 answers the debugging replica from its copy (12), but is no longer the leader: its
    # consumer's answer is "not the leader". Renewed, the metadata names node 2, whose log ends
    # at 10.
    brokers = _Brokers(consumer=[{A: str(NOT_LEADER)}, {A: 8}, {A: 8}, {A: 8}],
                       log=[{A: 12}, {A: 10}], leaders=[1, 2])
    assert await appended_ends(brokers, [A], timeout_s=5.0) == {A: 10}  # type: ignore[arg-type]
    assert brokers.sent_to[-2:] == [(2, -2), (2, -1)]  # the log end, then the leader's word


async def test_a_leader_that_does_not_answer_is_asked_again_not_given_up():
    class _Gone(_Brokers):
        async def send(self, node: int, request: Any) -> Any:
            if node == 1:
                raise KafkaConnectionError("node 1 is gone")
            return await super().send(node, request)

    brokers = _Gone(consumer=[{A: 3}], log=[{A: 4}], leaders=[1, 2])
    assert await appended_ends(brokers, [A], timeout_s=5.0) == {A: 4}  # type: ignore[arg-type]


def test_the_wait_covers_the_partitions_the_keys_went_to():
    tps = [TopicPartition("t", p) for p in range(6)]
    keys = [b"PRJ-1", b"PRJ-2"]
    # Where aiokafka's producer put them, under every partition count up to 6 (partitions may
    # have been added since the records were sent).
    placed = {DefaultPartitioner()(k, list(range(n)), list(range(n)))
              for k in keys for n in range(1, 7)}
    assert [tp.partition for tp in _partitions_of_keys(tps, keys)] == sorted(placed)
    assert _partitions_of_keys(tps, None) == tps
    assert _partitions_of_keys(tps, [b"PRJ-1", None]) == tps  # a record without a key: anywhere
