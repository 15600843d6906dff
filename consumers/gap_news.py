"""When a held record is news: the letter its alert carries, and whether the consumer has
caught up far enough that a gap is not simply a predecessor still on its way (``ViewSync``)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.holding import Gate, Held
from consumers.store_batch import stored_offsets
from consumers.store_schema import Tables
from consumers.verification import Reason, Rejected
from transport.kafka import TopicPartition

log = structlog.get_logger("consumers.gap_news")

OTHERS_TIMEOUT_S = 5.0
"""How long a batch waits for the end offsets of partitions other consumer processes read."""


class OwnedPartitions(Protocol):
    """What the consumer owns and where those partitions end (``sync.PartitionControl``)."""

    def assignment(self) -> Any: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...


def held_letter(dlq: DeadLetterQueue, held: Held, reason: Reason) -> DeadLetter:
    """A held record as its alert sees it (it is not dead-lettered: it may still count)."""
    detail = (f"sequence {held.sequence} of {held.source} is held: "
              + ("an earlier sequence of this source is not on the log"
                 if reason is Reason.SEQUENCE_GAP else
                 "another event of this source claims the same sequence; the source is "
                 "quarantined from there on"))
    return dlq.letter(held.record, Rejected(reason, detail, held.event_id, held.source))


async def caught_up(conn: AsyncConnection, tables: Tables, gate: Gate,
                     offsets: dict[tuple[str, int], int], control: OwnedPartitions) -> bool:
    """Whether this batch leaves the consumer at the end of every partition it reads (only
    asked while records are held: a gap is news only once nothing more is on its way), and
    the store at the end of the other partitions of its topics, those other consumer processes
    read: the missing sequence may be on its way in one of theirs."""
    if not gate.may_hold():
        return False
    positions = await stored_offsets(conn, tables) | offsets
    owned = set(control.assignment())
    for tp in owned:
        end = control.highwater(tp)
        if end is None or positions.get((tp.topic, tp.partition), 0) < end:
            return False
    topics = {tp.topic for tp in owned}
    others = [TopicPartition(*k) for k in sorted(positions)
              if k[0] in topics and TopicPartition(*k) not in owned]
    ask = getattr(control, "end_offsets", None)
    if not others or ask is None:
        return True
    try:
        ends = await asyncio.wait_for(ask(others), OTHERS_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - not known to be caught up: the alert waits
        log.warning("end_offsets_unavailable", error=repr(exc)[:300])
        return False
    return all(positions[(tp.topic, tp.partition)] >= end for tp, end in ends.items())
