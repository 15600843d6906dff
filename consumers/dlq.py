"""Dead letters: each rejected record goes to the DLQ unchanged, with why, where and who.

A DLQ record keeps the original key, value and headers byte for byte and adds ``dlq_reason``,
``dlq_detail``, ``dlq_topic``, ``dlq_partition``, ``dlq_offset``, ``dlq_consumer`` and
``dlq_id`` (``topic:partition:offset``). The consumer sends its dead letters and waits for the
broker's acknowledgement *before* it commits the batch, so a crash can at worst write a dead
letter twice (same ``dlq_id``), never lose one.

Security alerts: ``RejectionHook``s run for every dead letter after the DLQ acknowledged it and
before the batch commits. The alerts service (issue 6) registers one that publishes a signed
security-alert event; like the DLQ it is at-least-once, so it should derive the alert's id from
``DeadLetter.dlq_id``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import cast

import structlog

from consumers.metrics import DLQ_RECORDS, REJECTED_RECORDS
from consumers.verification import RawRecord, Rejected
from schemas.envelope import KafkaRecord, org_of
from schemas.errors import EminingError
from transport.sender import Ack, RecordSender

log = structlog.get_logger("consumers.dlq")

MAX_DETAIL = 1000


class DeadLetterError(EminingError):
    """The DLQ did not acknowledge a dead letter: the batch is not committed and is retried."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected record and why; ``consumer`` names who rejected it."""

    record: RawRecord
    rejection: Rejected
    consumer: str

    @property
    def dlq_id(self) -> str:
        return f"{self.record.topic}:{self.record.partition}:{self.record.offset}"

    def headers(self) -> list[tuple[str, bytes | None]]:
        r, why = self.record, self.rejection
        extra = {
            "dlq_reason": why.reason.value, "dlq_detail": why.detail[:MAX_DETAIL],
            "dlq_topic": r.topic, "dlq_partition": str(r.partition), "dlq_offset": str(r.offset),
            "dlq_consumer": self.consumer, "dlq_id": self.dlq_id,
        }
        return [*r.headers, *((k, v.encode()) for k, v in extra.items())]

    def to_record(self, topic: str) -> KafkaRecord:
        # Kafka allows a null key, value or header value; the original's are kept as they were.
        return KafkaRecord(topic, cast("bytes", self.record.key), cast("bytes", self.record.value),
                           cast("list[tuple[str, bytes]]", self.headers()))


RejectionHook = Callable[[DeadLetter], Awaitable[None]]


class DeadLetterQueue:
    """Sends dead letters and runs the rejection hooks; ``sender=None`` only logs and counts."""

    def __init__(
        self, sender: RecordSender | None, topic: str, consumer: str,
        hooks: Sequence[RejectionHook] = (),
    ) -> None:
        self._sender = sender
        self.topic = topic
        self.consumer = consumer
        self._hooks = tuple(hooks)

    @property
    def alerting(self) -> bool:
        """Whether hooks (the alerts) listen: a rebuild's DLQ has none."""
        return bool(self._hooks)

    def letter(self, record: RawRecord, rejection: Rejected) -> DeadLetter:
        return DeadLetter(record, rejection, self.consumer)

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Deliver every letter (acknowledged) and run the hooks, or raise ``DeadLetterError``."""
        if not letters:
            return
        for letter in letters:
            why = letter.rejection
            REJECTED_RECORDS.labels(consumer=self.consumer, reason=why.reason.value).inc()
            log.warning("record_rejected", reason=why.reason.value, detail=why.detail[:300],
                        topic=letter.record.topic, partition=letter.record.partition,
                        offset=letter.record.offset, event_id=why.event_id,
                        org=org_of(why.source) if why.source else None, dlq_id=letter.dlq_id)
        if self._sender is not None:
            acks = await self._sender.send([letter.to_record(self.topic) for letter in letters])
            failed = [a for a in acks if not isinstance(a, Ack)]
            if failed:
                raise DeadLetterError(f"{len(failed)} of {len(letters)} dead letters not "
                                      f"acknowledged by {self.topic}: {failed[0]}")
            DLQ_RECORDS.labels(consumer=self.consumer).inc(len(letters))
        await self.notify(letters)

    async def notify(self, letters: Sequence[DeadLetter]) -> None:
        """Run the hooks only: for records held, not refused (their alerts, nothing sent)."""
        for letter in letters:
            for hook in self._hooks:
                await hook(letter)
