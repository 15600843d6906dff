"""The participants registry kept in step with its topic: read to the end at start, then followed.

A consumer must see a key revocation or a withdrawn authority soon after it is published, and a
key added a moment ago before it judges an event signed with it: ``refresh`` reads whatever was
appended since, costs one offsets request when nothing was, and the view consumer calls it
before each batch (at most every ``min_interval_s``) and whenever a key is unknown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from contextlib import aclosing
from types import TracebackType
from typing import Any

import structlog

from producers.registry_reader import RegistryUnavailableError
from schemas.envelope_read import from_record
from schemas.errors import ContractError
from schemas.registry import Registry
from schemas.topics import PARTICIPANTS
from schemas.verify import EnvelopeVerifier
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaConnectionError, KafkaError, TopicPartition
from transport.meta import connection_problem, partitions_of
from transport.read import assign_from_beginning, drain, end_offsets, group_less

log = structlog.get_logger("consumers.registry")


class RegistryFollower:
    """Owns one group-less consumer of the participants topic and the ``Registry`` it folds."""

    def __init__(
        self, kafka: KafkaAccess, trust_anchor: Iterable[bytes], *, topic: str = PARTICIPANTS,
        timeout_s: float = 15.0, min_interval_s: float = 1.0,
    ) -> None:
        self.registry = Registry()
        self._verifier = EnvelopeVerifier(self.registry, trust_anchor)
        self._kafka, self._topic, self._timeout_s = kafka, topic, timeout_s
        self._min_interval_s = min_interval_s
        self._consumer: Any = None
        self._tps: list[TopicPartition] = []
        self._last = 0.0
        self._lock = asyncio.Lock()
        self.version = 0
        """Counts the records folded (or tried): changes whenever the registry may have."""

    async def __aenter__(self) -> RegistryFollower:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        consumer = group_less(self._kafka, self._timeout_s)
        try:
            parts = await partitions_of(self._kafka, self._topic, timeout_s=self._timeout_s)
            self._tps = [TopicPartition(self._topic, p) for p in parts]
            await asyncio.wait_for(consumer.start(), self._timeout_s)
            if self._tps:
                await assign_from_beginning(consumer, self._tps, paused=True)
        except (KafkaError, OSError, TimeoutError) as exc:
            await consumer.stop()
            reason = self._refused(exc)
            if reason is None and isinstance(exc, KafkaConnectionError):
                reason = await connection_problem(self._kafka, self._timeout_s)
            raise RegistryUnavailableError(
                f"cannot read {self._topic}: {reason or repr(exc)}") from exc
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        if not self._tps:
            await self.stop()
            raise RegistryUnavailableError(
                f"topic {self._topic} does not exist: run `emining topics apply`")
        await self.refresh(force=True)
        log.info("registry_loaded", organisations=len(self.registry.orgs))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def refresh(self, *, force: bool = True) -> bool:
        """Fold what was appended since the last call; True if anything was."""
        async with self._lock:
            if not force and time.monotonic() - self._last < self._min_interval_s:
                return False
            self._last = time.monotonic()
            try:
                return await asyncio.wait_for(self._catch_up(), self._timeout_s)
            except (KafkaError, OSError, TimeoutError) as exc:
                raise RegistryUnavailableError(
                    f"cannot read {self._topic}: {self._refused(exc) or repr(exc)}") from exc

    def _refused(self, exc: BaseException) -> str | None:
        return refusal(exc, self._kafka, f"READ of {self._topic}")

    async def _catch_up(self) -> bool:
        """Read up to the current end. Between calls the partitions stay paused: an idle fetch
        would long-poll the broker and hold up the next offsets request behind it."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        end = await end_offsets(consumer, self._tps, timeout_s=self._timeout_s)
        folded = False
        async with aclosing(drain(consumer, end, timeout_s=self._timeout_s)) as batches:
            async for records in batches:
                for record in records:
                    folded = self._fold(record) or folded
        return folded

    def _fold(self, record: Any) -> bool:
        self.version += 1
        try:
            env = from_record(record.key, record.value, record.headers)
            self._verifier.check_signature(env)
            self.registry.apply(env.data, env.time)
        except ContractError as exc:
            log.warning("registry_record_skipped", offset=record.offset, reason=str(exc))
            return False
        return True
