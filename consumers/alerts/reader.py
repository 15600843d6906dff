"""Reading alerts topics: verify the platform's signature, follow (finding ids a crash may
have sent: ``producers.log_lookup``).

Readers trust an alert only if it parses, names the topic's organisation as recipient, and is
signed by a trust-anchor key (the platform operator's, configured out of band like the
registry's). Duplicates (same id: a crash between send and record) are dropped by id.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from contextlib import aclosing
from dataclasses import dataclass

from schemas.alerts import AlertRaised
from schemas.envelope import Envelope
from schemas.envelope_read import from_record
from schemas.errors import ContractError, SignatureError
from schemas.signing import Verifier
from schemas.topics import alerts_topic
from transport.access import KafkaAccess
from transport.kafka import TopicPartition
from transport.read import follow as read_on

_REMEMBERED = 100_000
"""Alert ids a follower remembers to drop repeats (a repeat comes right after its original)."""

Position = dict[int, int]
"""Partition → next offset to read."""


@dataclass(frozen=True, slots=True)
class Received:
    alert: AlertRaised
    envelope: Envelope
    partition: int
    offset: int


class AlertVerifier:
    """Checks an alert record: envelope, type, recipient and the platform's signature."""

    def __init__(self, trust_anchor: Iterable[bytes], platform: str) -> None:
        self._keys = {v.keyid: v for v in (Verifier(raw) for raw in trust_anchor)}
        self.platform = platform

    def check(self, key: bytes | None, value: bytes | None,
              headers: Iterable[tuple[str, bytes | None]], org: str) -> Envelope:
        env = from_record(key, value, tuple(headers))
        if not isinstance(env.data, AlertRaised):
            raise ContractError(f"{env.type} is not an alert")
        if env.org != self.platform:
            raise SignatureError(f"alert from {env.org}, not from the platform")
        if env.data.recipient != org or alerts_topic(org) != env.topic:
            raise ContractError(f"alert for {env.data.recipient} on {alerts_topic(org)}")
        verifier = self._keys.get(env.keyid)
        if verifier is None:
            raise SignatureError(f"alert signed with {env.keyid}, not a trust-anchor key")
        verifier.verify(env.signing_input(), env.signature)
        return env


async def follow(kafka: KafkaAccess, org: str, verifier: AlertVerifier, *,
                 start: Position | None = None, from_beginning: bool = False,
                 timeout_s: float = 15.0, stop: asyncio.Event | None = None,
                 ) -> AsyncGenerator[Received | Exception, None]:
    """Every alert on ``org``'s topic from ``start`` (or the beginning, or now), until ``stop``.

    Yields a ``Received`` per valid alert and the error for each record that fails a check
    (the caller reports it); a repeated alert id is skipped.
    """
    topic = alerts_topic(org)
    seen: set[str] = set()
    order: deque[str] = deque()
    begin = None if start is None else {TopicPartition(topic, p): o for p, o in start.items()}
    async with aclosing(read_on(kafka, [topic], start=begin, from_beginning=from_beginning,
                                timeout_s=timeout_s, stop=stop)) as batches:
        async for records in batches:
            for rec in records:
                try:
                    env = verifier.check(rec.key, rec.value, rec.headers, org)
                except ContractError as exc:
                    yield exc
                    continue
                assert isinstance(env.data, AlertRaised)
                if env.data.alert_id in seen:
                    continue
                seen.add(env.data.alert_id)
                order.append(env.data.alert_id)
                if len(order) > _REMEMBERED:
                    seen.discard(order.popleft())
                yield Received(env.data, env, rec.partition, rec.offset)
