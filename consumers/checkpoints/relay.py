"""The refusal relay: the witnesses' refusals (``emining.refusals.v1``) as platform alarms.

Each refusal's signature is checked against the witness organisation's keys in the registry
(valid when the record was written), the refusal must name a record of the checkpoints topic
with its value's hash, and at most one alarm per (witness, origin, kind) an hour is raised, the
rest counted. The checkpointer (``consumers.checkpoints.checkpointer``) runs it each round and
raises its alarms.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

import structlog

from consumers.checkpoints.alarms import Alarm
from schemas.checkpoints import (
    CLOCK_SKEW,
    RefusalRecord,
    record_moment,
    sha256_hex,
    utc,
)
from schemas.errors import EminingError
from schemas.registry import Registry
from schemas.tlog import TlogError
from schemas.topics import CHECKPOINTS, REFUSALS
from transport.access import KafkaAccess
from transport.kafka import Consumer, KafkaError, Record, TopicPartition
from transport.read import drain, end_offsets, read_to_end

log = structlog.get_logger("consumers.checkpoints.checkpointer")  # its events: the checkpointer's

ALARM_INTERVAL_S = 3600.0
"""At most one relayed refusal alarm per (witness, origin, kind) in this many seconds."""

RegistryLoader = Callable[[], Awaitable[Registry]]
AlarmRaiser = Callable[[Sequence[Alarm]], Awaitable[None]]
"""Raises new alarms once each (the checkpointer's ``_raise``)."""


class RefusalRelay:
    """Relays validly signed refusals of real checkpoint records, bounded per hour."""

    def __init__(self, kafka: KafkaAccess, raise_alarms: AlarmRaiser, *,
                 checkpoints_topic: str = CHECKPOINTS, refusals_topic: str = REFUSALS,
                 timeout_s: float = 15.0, registry: RegistryLoader | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.kafka, self._raise = kafka, raise_alarms
        self.checkpoints_topic, self.refusals_topic = checkpoints_topic, refusals_topic
        self.timeout_s, self._registry, self._clock = timeout_s, registry, clock
        self.next_offset = 0
        """The next offset of the refusals topic to read."""
        self._digests: dict[int, str] = {}
        """sha256 hex of each record's value on the checkpoints topic (partition 0), by offset:
        a refusal is relayed only when it names one of them with its hash."""
        self._digests_next = 0
        self._refreshed = False
        self._last_alarm: dict[tuple[str, str, str], float] = {}
        self._held: dict[tuple[str, str, str], int] = {}
        """Refusals not relayed since the last alarm of their (witness, origin, kind)."""

    async def relay_refusals(self, consumer: Consumer | None = None) -> int:
        """Raise the alarm for each new, validly signed witness refusal; returns how many.

        ``consumer``: one kept open between rounds (``run``'s), assigned the refusals
        partition, so that a round costs a fetch, not a new connection; else a short-lived
        one."""
        tp = TopicPartition(self.refusals_topic, 0)
        found: list[tuple[Record, RefusalRecord]] = []
        if consumer is None:
            reading = read_to_end(self.kafka, [self.refusals_topic],
                                  start={tp: self.next_offset}, timeout_s=self.timeout_s)
        else:
            ends = await end_offsets(consumer, [tp], timeout_s=self.timeout_s)
            reading = drain(consumer, ends, timeout_s=self.timeout_s)
        async with aclosing(reading) as batches:
            async for batch in batches:
                for rec in batch:
                    self.next_offset = rec.offset + 1
                    try:
                        found.append((rec, RefusalRecord.from_value(rec.value)))
                    except TlogError as exc:
                        log.warning("refusal_record_ignored", offset=rec.offset,
                                    reason=str(exc)[:200])
        if not found or self._registry is None:
            return 0
        registry = await self._registry()
        self._refreshed = False
        alarms = []
        for rec, refusal in found:
            try:
                alarm = self._refusal_alarm(registry, rec, refusal)
                if alarm is not None and await self._names_a_checkpoint(rec, refusal):
                    alarm = self._bounded(alarm)
                else:
                    alarm = None
            except (ValueError, OverflowError, OSError) as exc:  # TlogError is a ValueError
                log.warning("refusal_record_ignored", offset=rec.offset, reason=str(exc)[:200])
                continue
            if alarm is not None:
                alarms.append(alarm)
        await self._raise(alarms)
        return len(alarms)

    async def _names_a_checkpoint(self, rec: Record, refusal: RefusalRecord) -> bool:
        """Does the refusal name a record of the checkpoints topic with its value's hash?"""
        topic, _, place = refusal.refusal.record.rpartition(":")
        topic, _, partition = topic.rpartition(":")
        if (topic != self.checkpoints_topic or partition != "0" or not place.isascii()
                or not place.isdigit() or len(place) > 19):  # noqa: PLR2004 - an int64
            log.warning("refusal_not_of_a_checkpoint", offset=rec.offset,
                        record=refusal.refusal.record[:200])
            return False
        offset = int(place)
        if offset not in self._digests and not self._refreshed:
            self._refreshed = True  # once per round: refusals naming the future cost one read
            start = {TopicPartition(self.checkpoints_topic, 0): self._digests_next}
            async with aclosing(read_to_end(self.kafka, [self.checkpoints_topic], start=start,
                                            timeout_s=self.timeout_s)) as batches:
                async for batch in batches:
                    for one in batch:
                        if one.partition == 0:
                            self._digests[one.offset] = sha256_hex(one.value)
                            self._digests_next = max(self._digests_next, one.offset + 1)
        if self._digests.get(offset) != refusal.refusal.record_sha256:
            log.warning("refusal_not_of_a_checkpoint", offset=rec.offset,
                        record=refusal.refusal.record[:200])
            return False
        return True

    def _bounded(self, alarm: Alarm) -> Alarm | None:
        """At most one alarm per (witness, origin, kind) an hour; the rest are counted."""
        key = (alarm.reporter, alarm.origin, alarm.kind.value)
        now = self._clock()
        last = self._last_alarm.get(key)
        if last is not None and now - last < ALARM_INTERVAL_S:
            self._held[key] = self._held.get(key, 0) + 1
            log.info("refusal_alarm_held", witness=alarm.reporter, origin=alarm.origin,
                     kind=alarm.kind.value, held=self._held[key])
            return None
        self._last_alarm[key] = now
        held = self._held.pop(key, 0)
        if held:
            log.warning("refusal_alarms_held", witness=alarm.reporter, origin=alarm.origin,
                        kind=alarm.kind.value, held=held)
            return dataclasses.replace(alarm, detail=f"{alarm.detail} (and {held} more of this "
                                       "witness, origin and kind in the last hour)")
        return alarm

    @staticmethod
    def _refusal_alarm(registry: Registry, rec: Record, refusal: RefusalRecord) -> Alarm | None:
        """The alarm of one refusal record, when a key the registry gives the witness signed it
        and was valid at the time; the signature is checked before anything else is used."""
        r = refusal.refusal
        org = registry.orgs.get(r.witness)
        signers = [k for k in org.keys.values()
                   if refusal.verify([k.public_key])] if org is not None else []
        said = utc(r.time) if signers else None
        # the key must be valid when the record was written (its broker timestamp), not only
        # at the time the refusal declares: a revoked key cannot refuse by backdating
        written = record_moment(rec.timestamp) or said
        if said is None or written is None or abs(written - said) > CLOCK_SKEW or not any(
                k.valid_at(said) and k.valid_at(written) for k in signers):
            log.warning("refusal_not_signed_by_witness", offset=rec.offset, witness=r.witness)
            return None
        return Alarm(r.origin, r.kind, r.witness, f"{rec.topic}:{rec.partition}:{rec.offset}",
                     detail=refusal.detail)

    async def relay_or_log(self, consumer: Consumer | None = None) -> None:
        """:meth:`relay_refusals`, never stopping the checkpointer: what fails is logged."""
        try:
            await self.relay_refusals(consumer)
        except (KafkaError, OSError, TimeoutError, EminingError, ValueError,
                OverflowError) as exc:
            log.warning("refusal_relay_failed", error=repr(exc)[:300])
