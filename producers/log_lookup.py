"""Finding event ids on the log: what a sender that lost its acknowledgements actually wrote.

A record the broker appended may never be acknowledged (the broker died between the append and
the answer, or the client gave up waiting). Kafka's idempotence only removes the repeats of one
producer session, so a record re-sent by the next session would be on the log twice. Whoever
holds records in doubt therefore looks for their ids (the ``ce_id`` header) on their topics first
and re-sends only what is not there.

"Not there" must mean "will never be there". A record the leader appended but its followers have
not all fetched is not readable yet: the usual state of one whose acknowledgement a cut-off
follower held back (the leader waits for every in-sync follower until the controller fences the
cut one). A look-up that stopped at the readable end missed it; once the follower was fenced the
record committed, and the copy sent again made two (likely what the fault suite's partition saw
in the CI of 2026-12-07: 3 of 6 failed sends twice). So a look-up for records in doubt first asks
each partition's leader where its log ends (``appended_ends``) and waits until that much is
committed (``readable_through``); what it then does not find, the leader never kept. The sender
of the records in doubt must have stopped first (``RecordSender.quiet``): a session still
retrying them could append one after the look-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import aclosing, nullcontext
from datetime import datetime, timedelta

from transport.access import KafkaAccess
from transport.kafka import Consumer, TopicPartition
from transport.meta import key_partition
from transport.offsets import appended_ends, known_partitions, readable_through
from transport.read import assign_from, drain, end_offsets, offsets_for_times, opened

CLOCK_SKEW = timedelta(minutes=5)
"""How far apart the clocks of clients and broker may be: the look-back of a search."""


async def find_ids(kafka: KafkaAccess, wanted: Mapping[str, set[str]], since: datetime, *,
                   timeout_s: float = 15.0, in_doubt: bool = True,
                   keys: Mapping[str, Iterable[bytes | None]] | None = None,
                   consumer: Consumer | None = None) -> dict[str, tuple[str, int, int]]:
    """Which of ``wanted`` (topic → event ids) were appended to their topic at or after ``since``
    (record timestamps): id → (topic, partition, offset).

    Reads each topic from ``since`` to its end; every broker call is bounded by ``timeout_s``.
    ``in_doubt`` (records whose sender got no acknowledgement): the end is where each leader's
    log ends now, once that much is committed, so an id not found was not kept; ``TimeoutError``
    if it is not committed within ``timeout_s``. Otherwise the end is what is readable now.
    ``keys`` (topic → the keys of the records sought) narrows the look-up to their partitions,
    as the producer's partitioner placed them; a topic without keys is read whole. Needs
    READ on the topics (a refusal raises the broker's authorisation error). A
    ``consumer`` given is used (and its assignment changed) instead of a new one.
    """
    found: dict[str, tuple[str, int, int]] = {}
    reading = nullcontext(consumer) if consumer is not None else opened(kafka, timeout_s)
    async with reading as reader:
        for topic, ids in wanted.items():
            await _scan(reader, topic, ids, since, timeout_s, found,
                        in_doubt=in_doubt, keys=(keys or {}).get(topic))
    return found


async def _scan(consumer: Consumer, topic: str, ids: set[str], since: datetime,
                timeout_s: float, found: dict[str, tuple[str, int, int]], *,
                in_doubt: bool, keys: Iterable[bytes | None] | None) -> None:
    # Only where the records can be: a partition that cannot hold them, led by a broker cut
    # off, must not fail the look-up.
    tps = _partitions_of_keys(await known_partitions(consumer, topic, timeout_s=timeout_s), keys)
    if not tps:
        return
    if in_doubt:  # the leaders' own ends: aiokafka's fail on a new leader (OFFSET_NOT_AVAILABLE)
        appended = await appended_ends(consumer, tps, timeout_s=timeout_s)
        end = await readable_through(consumer, appended, timeout_s=timeout_s)
    else:
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


def _partitions_of_keys(tps: list[TopicPartition], keys: Iterable[bytes | None] | None,
                        ) -> list[TopicPartition]:
    """The partitions of ``tps`` that records with ``keys`` went to (the producer's murmur2);
    all of them when a key is missing or none are given. A topic's partitions may have been
    added since a record was sent (never taken away), so each key's partition under every
    count up to today's is included."""
    wanted = list(keys or ())
    if not wanted or any(key is None for key in wanted):
        return tps
    chosen = {key_partition(key, count) for key in wanted if key is not None
              for count in range(1, len(tps) + 1)}
    return [tp for tp in tps if tp.partition in chosen]
