"""An idle view consumer polls again within milliseconds, not after FastStream's 200 ms sleep.

FastStream's batch subscriber waits ``batch_timeout_ms`` in ``getmany`` and, when nothing came,
sleeps as long again before the next poll: at its default a record arriving during the sleep
waited up to 200 ms for nothing (``bench_alerts --rate 20``: p50 259 ms, with 10 ms 84 ms).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from consumers.config import ViewsConfig
from consumers.runner import POLL_WAIT_MS, build_broker
from transport.access import KafkaAccess


class _Idle:
    """A consumer with nothing fetched: ``getmany`` waits its timeout and returns nothing."""

    def __init__(self) -> None:
        self.waits: list[int] = []

    async def getmany(self, *partitions: Any, timeout_ms: int = 0,
                      max_records: int | None = None) -> dict[Any, list[Any]]:
        self.waits.append(timeout_ms)
        return {}


def _subscriber() -> Any:
    config = ViewsConfig(kafka=KafkaAccess("127.0.0.1:9092"), store_url="sqlite://",
                         trust_anchor=())
    broker = build_broker(config, None, None)  # type: ignore[arg-type]  # not started
    (subscriber,) = broker.subscribers
    return subscriber


@pytest.mark.asyncio
async def test_an_empty_poll_is_followed_by_the_next_within_the_poll_wait() -> None:
    subscriber, consumer = _subscriber(), _Idle()
    started = time.perf_counter()
    for _ in range(5):
        assert await subscriber.get_msg(consumer) == ()
    per_poll_ms = (time.perf_counter() - started) * 1000 / 5
    assert consumer.waits == [POLL_WAIT_MS] * 5
    assert POLL_WAIT_MS <= 20, "the latency an idle consumer may add"
    assert per_poll_ms < 150, f"{per_poll_ms:.1f} ms between polls: FastStream's sleep is back"
