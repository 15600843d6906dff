"""Cluster metadata look-ups shared by readers that assign partitions themselves."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import murmur2

from transport.access import KafkaAccess, diagnose

DIAGNOSE_S = 5.0
"""Longest a failed connection is probed for its real cause (authentication, TLS)."""


async def partitions_of(kafka: KafkaAccess, topic: str, *, timeout_s: float = 15.0) -> list[int]:
    """The partition numbers of ``topic`` (empty when it does not exist)."""
    client = AIOKafkaClient(**kafka.aiokafka(), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
        return sorted(cluster.partitions_for_topic(topic) or ())
    finally:
        await client.close()


async def connection_problem(kafka: KafkaAccess, timeout_s: float = DIAGNOSE_S) -> str | None:
    """Why ``kafka`` could not connect, when the cause is authentication or TLS; else ``None``.

    aiokafka only says "Unable to bootstrap": ``diagnose`` asks librdkafka, in a thread (it
    blocks). Without SASL or TLS there is nothing it could find, so it is not asked.
    """
    if not (kafka.sasl or kafka.tls):
        return None
    return await asyncio.to_thread(diagnose, kafka, min(timeout_s, DIAGNOSE_S))


def key_partition(key: bytes, partitions: int) -> int:
    """The partition a keyed record belongs in: murmur2, as Kafka's Java client and aiokafka
    place it (the SDK's producer). A record of another partition was put there by hand or by a
    client with another partitioner (librdkafka's default is CRC32), and read order across
    partitions would then decide what its subject looks like."""
    return _key_hash(key) % partitions


KEY_HASHES = 4096
"""Keys whose hash ``_key_hash`` keeps: the subjects in flight. At 1 << 16 the cache held
~17 MB once full, and filled over a long run's first ~500k events: most of what the verify
worker's resident set grew by (``benchmarks.bench_views_soak``); a key that has left it costs
its ~6 µs again."""


@lru_cache(maxsize=KEY_HASHES)
def _key_hash(key: bytes) -> int:
    """murmur2 in pure Python (~6 µs) once per key: a subject's events share their key."""
    return int(murmur2(key) & 0x7FFFFFFF)


async def partition_counts(kafka: KafkaAccess, topics: list[str], *,
                           timeout_s: float = 15.0) -> dict[str, int]:
    """How many partitions each of ``topics`` has (topics that do not exist are left out):
    one connection, one metadata request."""
    client = AIOKafkaClient(**kafka.aiokafka(), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
        counts = {t: len(cluster.partitions_for_topic(t) or ()) for t in topics}
    finally:
        await client.close()
    return {t: n for t, n in counts.items() if n}
