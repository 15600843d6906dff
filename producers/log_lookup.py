"""Finding event ids on the log: what a sender that lost its acknowledgements actually wrote.

A record the broker appended may never be acknowledged (the broker died between the append and
the answer, or the client gave up waiting). Kafka's idempotence only removes the repeats of one
producer session, so a record re-sent by the next session would be on the log twice. Whoever
holds records in doubt therefore looks for their ids (the ``ce_id`` header) on their topics first
and re-sends only what is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import aclosing
from datetime import datetime, timedelta

from transport.access import KafkaAccess
from transport.kafka import Consumer, TopicPartition
from transport.meta import partitions_of
from transport.read import assign_from, drain, end_offsets, offsets_for_times, opened

CLOCK_SKEW = timedelta(minutes=5)
"""How far apart the clocks of clients and broker may be: the look-back of a search."""


async def find_ids(kafka: KafkaAccess, wanted: Mapping[str, set[str]], since: datetime, *,
                   timeout_s: float = 15.0) -> dict[str, tuple[str, int, int]]:
    """Which of ``wanted`` (topic → event ids) were appended to their topic at or after ``since``
    (record timestamps): id → (topic, partition, offset).

    Reads each topic from ``since`` to its end as it is now; every broker call is bounded by
    ``timeout_s``. Needs READ on the topics (a refusal raises the broker's authorisation error).
    """
    found: dict[str, tuple[str, int, int]] = {}
    async with opened(kafka, timeout_s) as consumer:
        for topic, ids in wanted.items():
            await _scan(consumer, kafka, topic, ids, since, timeout_s, found)
    return found


async def _scan(consumer: Consumer, kafka: KafkaAccess, topic: str, ids: set[str],
                since: datetime, timeout_s: float, found: dict[str, tuple[str, int, int]],
                ) -> None:
    tps = [TopicPartition(topic, p) for p in await partitions_of(kafka, topic, timeout_s=timeout_s)]
    if not tps:
        return
    end = await end_offsets(consumer, tps, timeout_s=timeout_s)
    starts = await offsets_for_times(consumer, tps, since, timeout_s=timeout_s)
    begin = {tp: starts[tp] for tp in tps if tp in starts and starts[tp] < end[tp]}
    if not begin:
        return
    assign_from(consumer, begin)
    todo = {tp: end[tp] for tp in begin}
    async with aclosing(drain(consumer, todo, timeout_s=timeout_s)) as batches:
        async for batch in batches:
            for rec in batch:
                event_id = dict(rec.headers).get("ce_id", b"").decode("utf-8", "replace")
                if event_id in ids:
                    found.setdefault(event_id, (topic, rec.partition, rec.offset))
