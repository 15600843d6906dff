"""The publisher SDK against a real broker: chains, restarts, authority, outages."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka.admin import NewTopic
from aiokafka.partitioner import DefaultPartitioner

from producers.chainstore import Acknowledged, Pending, SourceInUseError
from producers.publisher import Draft, Publisher
from schemas.chain import Link, check_link
from schemas.envelope_read import from_record
from schemas.errors import AuthorityError
from schemas.signing import PrivateKey, Verifier
from schemas.timing import TimeSkewError
from tests.integration.kafka_admin import create_topics
from tests.integration.publishing.conftest import (
    end_offsets,
    example_of,
    on_topic,
    read_all,
    registry_with,
)
from transport.access import KafkaAccess
from transport.errors import BrokerUnavailableError, PublishError
from transport.sender import RecordSender

pytestmark = pytest.mark.integration

ORG = "urn:emining:pk:gov:ba-mmdd"
REGISTERED = "pk.emining.project.registered"


def _drafts(topic: str, n: int) -> list[Draft]:
    base = example_of(REGISTERED)
    cls = on_topic(type(base), topic)
    drafts = []
    for i in range(n):
        data = base.model_dump(mode="json")
        data["project_id"] = f"PRJ-BA-CHG-{i + 1:04d}"
        drafts.append(Draft(cls.model_validate(data)))
    return drafts


async def test_published_events_are_signed_keyed_and_chained(kafka_access, make_topic,
                                                             tmp_path):
    topic = await make_topic(3)
    key = PrivateKey.generate(ORG)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path) as pub:
        results = await pub.publish_many(_drafts(topic, 40))
    assert [r.sequence for r in results] == list(range(1, 41))
    assert {r.topic for r in results} == {topic}
    assert len({r.partition for r in results}) > 1, "keys should spread over partitions"

    records = await read_all(kafka_access, topic)
    assert len(records) == 40
    by_offset = {(r.partition, r.offset): r for r in records}
    verifier = Verifier(key.public_key)
    envelopes = []
    for result in results:
        record = by_offset[(result.partition, result.offset)]
        env = from_record(record.key, record.value, record.headers)
        verifier.verify(env.signing_input(), env.signature)
        assert env.id == result.id
        assert record.key == env.subject.encode() == env.data.subject.encode()
        envelopes.append(env)
    last = None
    for env in sorted(envelopes, key=lambda e: e.sequence):
        assert check_link(last, env.sequence, env.prevhash) is None
        last = Link(env.sequence, env.hash())


async def test_many_small_batches_land_where_send_would_put_them_in_order(kafka_access,
                                                                           make_topic,
                                                                           tmp_path):
    """Batches far smaller than a call (4 KB: a few records each, so most are handed over
    mid-call when full): each result names the very record on the log, every record is in the
    partition the producer's own partitioner gives its key, and a partition holds its records
    in chain order."""
    topic = await make_topic(2)
    key = PrivateKey.generate(ORG)
    drafts = _drafts(topic, 120)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk", state_dir=tmp_path,
                         producer_options={"max_batch_size": 4096}) as pub:
        results = await pub.publish_many(drafts[:60])
        results += await pub.publish_many(drafts[60:])
    assert [r.sequence for r in results] == list(range(1, 121))
    records = await read_all(kafka_access, topic)
    assert len(records) == 120
    by_place = {(r.partition, r.offset): r for r in records}
    partitioner = DefaultPartitioner()
    for result in results:
        record = by_place[(result.partition, result.offset)]
        env = from_record(record.key, record.value, record.headers)
        assert (env.id, env.sequence) == (result.id, result.sequence)
        assert record.partition == partitioner(record.key, [0, 1], [0, 1])
    for partition in (0, 1):
        in_log = sorted((r for r in records if r.partition == partition), key=lambda r: r.offset)
        sequences = [from_record(r.key, r.value, r.headers).sequence for r in in_log]
        assert sequences == sorted(sequences)
        assert len(sequences) > 10  # both partitions got a share, across many batches


async def test_a_call_is_sent_at_once_not_held_for_the_linger(kafka_access, make_topic,
                                                                tmp_path):
    """A call hands over complete batches: none waits ``linger_ms`` for records that will not
    come (at 10 s here; the SDK's 5 ms was paid by every publish on an idle producer, and again
    by its alert's). Full batches and the last ones alike, on each partition."""
    topic = await make_topic(2)
    key = PrivateKey.generate(ORG)
    drafts = _drafts(topic, 41)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk", state_dir=tmp_path,
                         producer_options={"linger_ms": 10_000,
                                           "max_batch_size": 4096}) as pub:
        took = []
        for part in (drafts[:1], drafts[1:41]):  # one record; then many, most batches full
            started = time.monotonic()
            results = await pub.publish_many(part)
            took.append(time.monotonic() - started)
            assert all(r.partition in (0, 1) for r in results)
    assert max(took) < 5.0, took
    assert len(await read_all(kafka_access, topic)) == 41


async def test_a_restart_continues_the_chain(kafka_access, make_topic, tmp_path):
    topic = await make_topic(1)
    key = PrivateKey.generate(ORG)
    drafts = _drafts(topic, 4)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path) as pub:
        await pub.publish_many(drafts[:3])
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path) as pub:
        fourth = await pub.publish_many(drafts[3:])
    assert fourth[0].sequence == 4
    envs = [from_record(r.key, r.value, r.headers) for r in await read_all(kafka_access, topic)]
    assert [e.sequence for e in envs] == [1, 2, 3, 4]
    assert envs[3].prevhash == envs[2].hash()


async def test_a_second_writer_of_the_same_source_is_refused(kafka_access, tmp_path):
    key = PrivateKey.generate(ORG)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path):
        second = Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                           state_dir=tmp_path)
        with pytest.raises(SourceInUseError, match="in use by another publisher"):
            await second.start()
        # another instance of the same organisation is its own source: allowed
        async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk-2",
                             state_dir=tmp_path):
            pass


async def test_unreachable_broker_fails_clearly_within_the_bound(tmp_path):
    key = PrivateKey.generate(ORG)
    started = time.monotonic()
    pub = Publisher(kafka=KafkaAccess("127.0.0.1:1"), key=key, source=f"{ORG}/sdk",
                    state_dir=tmp_path, timeout_s=2.0)
    with pytest.raises(BrokerUnavailableError, match=r"127\.0\.0\.1:1 unreachable within 2s"):
        await pub.start()
    assert time.monotonic() - started < 6
    assert not list(tmp_path.glob("*.sqlite")), "nothing may be recorded in the chain state"


async def test_events_outside_authority_fail_before_the_broker(kafka_access, make_topic,
                                                              tmp_path):
    topic = await make_topic(1)
    key = PrivateKey.generate(ORG)
    registry = registry_with(key, event_types=["pk.emining.project.*"], provinces=["PK-SD"])
    before = await end_offsets(kafka_access, topic)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path, registry=registry) as pub:
        with pytest.raises(AuthorityError, match="does not cover PK-BA"):
            await pub.publish_many(_drafts(topic, 2))
    assert await end_offsets(kafka_access, topic) == before


async def test_a_time_no_reader_would_take_fails_before_anything_is_signed(
        kafka_access, make_topic, tmp_path):
    """The SDK holds a draft's time to the readers' skew, as `emining publish --time` does: a
    month back without a backfill window would be dead-lettered `time_skew` by every reader."""
    topic = await make_topic(1)
    key = PrivateKey.generate(ORG)
    registry = registry_with(key, event_types=["pk.emining.project.*"])
    before = await end_offsets(kafka_access, topic)
    month_ago = datetime.now(UTC) - timedelta(days=30)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path, registry=registry) as pub:
        [draft] = _drafts(topic, 1)
        with pytest.raises(TimeSkewError, match="inside a backfill window"):
            await pub.publish_many([Draft(draft.data, time=month_ago)])
        with pytest.raises(TimeSkewError, match="at most 5 minutes ahead"):
            await pub.publish_many([Draft(draft.data,
                                          time=datetime.now(UTC) + timedelta(hours=1))])
        assert pub.chain_head().sequence == 0  # nothing signed
        [ok] = await pub.publish_many([Draft(draft.data,
                                             time=datetime.now(UTC) - timedelta(days=1))])
    assert ok.sequence == 1
    assert await end_offsets(kafka_access, topic) != before


async def test_unacknowledged_events_stay_pending_and_go_first(kafka_access, make_topic,
                                                              tmp_path):
    key = PrivateKey.generate(ORG)
    missing = f"test.pub.missing-{time.time_ns()}"  # not created yet: the broker cannot take it
    drafts = _drafts(missing, 3)
    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path, timeout_s=3.0) as pub:
        with pytest.raises(PublishError, match="3 of 3 events not acknowledged"):
            await pub.publish_many(drafts[:3])

    await create_topics(kafka_access, [NewTopic(missing, 1, 1)])

    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path) as pub:
        [fourth] = await pub.publish_many(_drafts(missing, 1))
    assert fourth.sequence == 4
    envs = [from_record(r.key, r.value, r.headers)
            for r in await read_all(kafka_access, missing)]
    assert [e.sequence for e in envs] == [1, 2, 3, 4]
    last = None
    for env in envs:
        assert check_link(last, env.sequence, env.prevhash) is None
        last = Link(env.sequence, env.hash())


class _LostAcks(RecordSender):
    """Sends for real, then loses the acknowledgements (the broker died before answering)."""

    async def send(self, records, results=None):
        answers = await super().send(records, results)
        lost = ["no acknowledgement within 3s" for _ in answers]
        if results is not None:
            results[:] = lost
        return lost


class _HangsAfterAcks(RecordSender):
    """Gets every acknowledgement, then hangs until cancelled (a caller's bound fires)."""

    async def send(self, records, results=None):
        await super().send(records, results)
        await asyncio.sleep(3600)
        raise AssertionError("not reached")


async def test_pending_events_already_on_the_log_are_settled_not_sent_again(
        kafka_access, make_topic, tmp_path):
    """A new producer session's idempotence does not cover the old session's records: what the
    outbox holds is looked up on the log by event id before anything is re-sent."""
    topic = await make_topic(3)
    key = PrivateKey.generate(ORG)
    drafts = [Draft(d.data, event_id=f"evt-lost-{i}") for i, d in enumerate(_drafts(topic, 4))]
    lossy = _LostAcks(kafka_access, timeout_s=3.0)
    async with lossy, Publisher(key=key, source=f"{ORG}/sdk", state_dir=tmp_path,
                                sender=lossy) as pub:
        with pytest.raises(PublishError, match="4 of 4 events not acknowledged"):
            await pub.publish_many(drafts)
        assert all(isinstance(pub.known(d.event_id), Pending) for d in drafts)
    assert sum((await end_offsets(kafka_access, topic)).values()) == 4

    async with Publisher(kafka=kafka_access, key=key, source=f"{ORG}/sdk",
                         state_dir=tmp_path, timeout_s=3.0) as pub:
        states = [pub.known(d.event_id) for d in drafts]
        [fifth] = await pub.publish_many(_drafts(topic, 1))
    assert all(isinstance(s, Acknowledged) and s.offset is not None for s in states), states
    assert fifth.sequence == 5
    ids = [from_record(r.key, r.value, r.headers).id for r in await read_all(kafka_access, topic)]
    assert sorted(ids) == sorted([*(d.event_id for d in drafts), fifth.id])


async def test_acknowledgements_are_recorded_when_the_caller_cancels(kafka_access, make_topic,
                                                                    tmp_path):
    topic = await make_topic(1)
    key = PrivateKey.generate(ORG)
    drafts = [Draft(d.data, event_id=f"evt-cancel-{i}") for i, d in enumerate(_drafts(topic, 5))]
    hangs = _HangsAfterAcks(kafka_access, timeout_s=3.0)
    async with hangs, Publisher(key=key, source=f"{ORG}/sdk", state_dir=tmp_path,
                                sender=hangs) as pub:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pub.publish_many(drafts), 2.0)
        states = [pub.known(d.event_id) for d in drafts]
    assert all(isinstance(s, Acknowledged) for s in states), states
