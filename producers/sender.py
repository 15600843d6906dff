"""One idempotent Kafka producer that sends records in order, all in flight, within a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from producers.connection import KafkaAccess, refusal
from producers.kafka_meta import connection_problem
from schemas.envelope import MAX_VALUE_BYTES, KafkaRecord
from schemas.errors import EminingError


class PublishError(EminingError):
    """The broker did not acknowledge some records within the deadline."""


class BrokerUnavailableError(PublishError):
    """No broker answered within the time bound; nothing was sent."""


@dataclass(frozen=True, slots=True)
class Ack:
    topic: str
    partition: int
    offset: int


def producer_config(kafka: KafkaAccess, timeout_s: float, **extra: Any) -> dict[str, Any]:
    """Settings every producer of the bus uses: idempotent, acks=all, bounded waits."""
    return {
        **kafka.aiokafka(),
        "enable_idempotence": True,  # implies acks="all"
        "acks": "all",
        "request_timeout_ms": int(timeout_s * 1000),
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": 4 * MAX_VALUE_BYTES,
        **extra,
    }


class RecordSender:
    """Owns an ``AIOKafkaProducer``; shared by every publisher of a process."""

    def __init__(
        self,
        kafka: KafkaAccess,
        *,
        timeout_s: float = 15.0,
        producer_options: dict[str, Any] | None = None,
    ) -> None:
        self.kafka = kafka
        self.timeout_s = timeout_s
        self._config = producer_config(kafka, timeout_s, **(producer_options or {}))
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> RecordSender:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        producer = AIOKafkaProducer(**self._config)
        try:
            await asyncio.wait_for(producer.start(), self.timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await producer.stop()
            if isinstance(exc, KafkaConnectionError) and (
                reason := await connection_problem(self.kafka, self.timeout_s)
            ):
                raise BrokerUnavailableError(f"{reason}; nothing was published") from exc
            if (reason := refusal(exc, self.kafka, "WRITE (an idempotent producer needs WRITE"
                                  " on at least one topic)")) is not None:
                raise BrokerUnavailableError(f"{reason}; nothing was published") from exc
            raise BrokerUnavailableError(
                f"broker {self.kafka.bootstrap} unreachable within {self.timeout_s:g}s "
                f"({type(exc).__name__}: {exc}); nothing was published"
            ) from exc
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, records: Sequence[KafkaRecord]) -> list[Ack | str]:
        """Send ``records`` in order, all in flight; each result is an ``Ack`` or why it failed.

        Records are enqueued strictly in order (a subject's events keep their order in its
        partition); after the first that cannot be enqueued, the rest are not sent at all.
        """
        if self._producer is None:
            raise PublishError("sender is not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        futures: list[asyncio.Future[Any]] = []
        enqueue_error = "not sent"
        send = self._producer.send
        try:
            # One deadline for the whole loop: a timer per send would cost ~30 µs each.
            async with asyncio.timeout_at(deadline):
                for rec in records:
                    fut = await send(rec.topic, rec.value, key=rec.key, headers=rec.headers)
                    futures.append(fut)
        except (KafkaError, TimeoutError) as exc:
            refused = refusal(exc, self.kafka, f"WRITE to {records[len(futures)].topic}")
            enqueue_error = f"not sent ({refused or f'{type(exc).__name__}: {exc}'})"
        done: set[asyncio.Future[Any]] = set()
        if futures:
            done, not_done = await asyncio.wait(futures, timeout=max(deadline - loop.time(), 0))
            for fut in not_done:
                fut.cancel()
        results: list[Ack | str] = []
        for index in range(len(records)):
            if index >= len(futures):
                results.append(enqueue_error)
                continue
            fut = futures[index]
            if fut not in done:
                results.append(f"no acknowledgement within {self.timeout_s:g}s")
            elif (error := fut.exception()) is not None:
                topic = records[index].topic
                results.append(refusal(error, self.kafka, f"WRITE to {topic}") or repr(error))
            else:
                meta = fut.result()
                results.append(Ack(meta.topic, meta.partition, meta.offset))
        return results
