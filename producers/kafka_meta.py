"""Cluster metadata look-ups shared by readers that assign partitions themselves."""

from __future__ import annotations

import asyncio

from aiokafka.client import AIOKafkaClient


async def partitions_of(bootstrap: str, topic: str, *, timeout_s: float = 15.0) -> list[int]:
    """The partition numbers of ``topic`` (empty when it does not exist)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout_s)
        return sorted(cluster.partitions_for_topic(topic) or ())
    finally:
        await client.close()
