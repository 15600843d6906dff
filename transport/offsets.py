"""Where a partition ends, as its leader says: what a reader can read (the high watermark) and
what the leader has appended (its log end), which differ by the records not every in-sync
follower has fetched yet. A look-up of records in doubt needs both (``producers.log_lookup``).

aiokafka's ``end_offsets`` gives only the first, and fails on a new leader not yet sure of its
high watermark; these send ListOffsets themselves, to each partition's leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka.errors import NoError, for_code
from aiokafka.protocol.offset import OffsetRequest

from transport.kafka import Consumer, KafkaError, TopicPartition


async def known_partitions(consumer: Consumer, topic: str, *,
                           timeout_s: float) -> list[TopicPartition]:
    """``topic``'s partitions as ``consumer``'s metadata has them, or else as a metadata request
    for every topic says: none if the topic does not exist, ``KafkaError`` if no broker
    answered. A request naming a topic creates it on a broker that creates topics on first use,
    so one is made (reading the partitions, by aiokafka) only for a topic listed here. Keeps to
    the consumer's connections, where ``partitions_of`` opens its own."""
    client = consumer._client  # noqa: SLF001 - the consumer's own metadata
    parts = client.cluster.partitions_for_topic(topic)
    if parts is None:
        everything = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
        parts = everything.partitions_for_topic(topic)
    return [TopicPartition(topic, p) for p in sorted(parts or ())]


LATEST = -1
"""ListOffsets' timestamp for "the end"."""

OFFSET_NOT_AVAILABLE = 78
"""A new leader's answer to a consumer until its high watermark reaches its epoch's start
(unknown to aiokafka, which calls it ``UnknownError``): asked again, not a failure."""

CONSUMER = -1
"""ListOffsets' ``replica_id`` of a consumer: answered by the leader only, with its high
watermark."""

DEBUGGING_REPLICA = -2
"""ListOffsets' ``replica_id`` of a debugging client (Kafka's ``DEBUGGING_REPLICA_ID``): the
broker answers from its replica's log end, every record it appended whether or not its followers
have it yet, where a consumer (``-1``) gets the high watermark: Kafka's
``Partition.fetchOffsetForTimestamp`` takes the log end when the request is not a consumer's."""


async def appended_ends(consumer: Consumer, tps: Iterable[TopicPartition], *,
                        timeout_s: float) -> dict[TopicPartition, int]:
    """Each of ``tps``' log end offset on its current leader: past every record that leader has
    appended, committed or not. A record there but not yet committed (a follower still in sync
    has not fetched it) is not readable yet, and a look-up that stops at the high watermark
    would not see it.

    A broker answers a debugging replica from its own copy whether or not it leads, so each
    answer is confirmed by a consumer's request to the same broker right after, which only the
    leader answers without an error. A leadership lost between the two requests leaves at
    worst a target too high (a deposed leader's records not kept): the wait for it to be
    committed times out, and nothing is sent. Not caught: stale metadata naming a follower that
    copies a record and becomes the leader between the two requests (a target too low)."""
    return await leader_ends(consumer, tps, appended=True, timeout_s=timeout_s)


async def leader_ends(consumer: Consumer, tps: Iterable[TopicPartition], *, appended: bool,
                      timeout_s: float) -> dict[TopicPartition, int]:
    """Each of ``tps``' end as its current leader says: its log end with ``appended``, else its
    high watermark (what a reader can read). A partition whose leader is unknown, moved, not
    answering, or new and not yet sure of its high watermark (``OFFSET_NOT_AVAILABLE``, which
    aiokafka's own ``end_offsets`` fails on) is asked again with renewed metadata until
    ``timeout_s``; then ``TimeoutError`` names what is missing."""
    wanted = list(dict.fromkeys(tps))
    client = consumer._client  # noqa: SLF001 - aiokafka has no ListOffsets for a replica id
    found: dict[TopicPartition, int] = {}
    try:
        async with asyncio.timeout(timeout_s):
            while missing := [tp for tp in wanted if tp not in found]:
                by_leader: dict[int, dict[str, list[tuple[int, int]]]] = {}
                for tp in missing:
                    leader = client.cluster.leader_for_partition(tp)
                    if leader is not None and leader >= 0:
                        by_leader.setdefault(leader, {}).setdefault(tp.topic, []).append(
                            (tp.partition, LATEST))
                    else:
                        client.add_topic(tp.topic)  # one whose partitions were just listed
                for node, topics in by_leader.items():
                    try:
                        if appended:
                            logged = await _list_ends(client, node, DEBUGGING_REPLICA, topics)
                            leads = await _list_ends(client, node, CONSUMER, topics)
                            ends = {tp: end for tp, end in logged.items() if tp in leads}
                        else:
                            ends = await _list_ends(client, node, CONSUMER, topics)
                    except (KafkaError, OSError) as error:  # gone, not answering: ask again
                        if isinstance(error, KafkaError) and not error.retriable:
                            raise
                        continue
                    found.update(ends)
                if len(found) < len(wanted):
                    await client.force_metadata_update()
                    await asyncio.sleep(0.1)
    except TimeoutError as error:
        names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in wanted if tp not in found)
        raise TimeoutError(f"no leader answered for {names} within {timeout_s:g}s") from error
    return found


async def _list_ends(client: Any, node: int, replica: int,
                     topics: dict[str, list[tuple[int, int]]]) -> dict[TopicPartition, int]:
    """One ListOffsets request to ``node`` as ``replica``: the partitions it answered without
    an error (a retriable one, such as "not the leader", leaves a partition out)."""
    response = await client.send(node, OffsetRequest(replica, 0, list(topics.items())))
    answered: dict[TopicPartition, int] = {}
    for topic, partitions in response.topics:
        for partition, code, *_, offset in partitions:
            error = for_code(code)
            if error is NoError:
                answered[TopicPartition(topic, partition)] = offset
            elif code != OFFSET_NOT_AVAILABLE and not (error.retriable or error.invalid_metadata):
                raise error(f"{topic}[{partition}]")
    return answered


async def readable_through(consumer: Consumer, targets: Mapping[TopicPartition, int], *,
                           timeout_s: float, poll_s: float = 0.1) -> dict[TopicPartition, int]:
    """The end offsets once every partition of ``targets`` is readable up to its target (its
    high watermark reached it): what was appended there is then committed, for good. Raises
    ``TimeoutError`` naming the partitions still short after ``timeout_s`` (a leader moved and
    the records beyond its log are gone, or its followers are down)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        ends = await leader_ends(consumer, targets, appended=False,
                                 timeout_s=max(deadline - loop.time(), poll_s))
        short = {tp: (ends.get(tp, 0), target) for tp, target in targets.items()
                 if ends.get(tp, 0) < target}
        if not short:
            return ends
        if loop.time() + poll_s > deadline:
            names = ", ".join(f"{tp.topic}[{tp.partition}] readable to {have}, appended to"
                              f" {want}" for tp, (have, want) in sorted(short.items()))
            raise TimeoutError(f"not committed within {timeout_s:g}s: {names}")
        await asyncio.sleep(poll_s)
