"""The async publisher SDK: validate, check authority, chain, sign and send, many in flight."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from producers.chainstore import Acknowledged, ChainStore, Pending
from producers.log_lookup import CLOCK_SKEW, find_ids
from producers.metrics import PUBLISH_LATENCY, PUBLISHED, REJECTED
from schemas.authority import decide
from schemas.base import EventData
from schemas.chain import Link
from schemas.envelope import MAX_VALUE_BYTES, KafkaRecord, org_of
from schemas.errors import AuthorityError, ContractError
from schemas.registry import Registry
from schemas.sealing import seal_record
from schemas.signing import PrivateKey
from schemas.timing import TimeBounds, TimeSkewError, check_time
from schemas.topics import PARTICIPANTS
from transport.access import KafkaAccess, refusal
from transport.errors import PublishError
from transport.kafka import KafkaError
from transport.sender import Ack, RecordSender

log = structlog.get_logger("producers.publisher")


@dataclass(frozen=True, slots=True)
class Draft:
    """An event to publish; ``event_id`` and ``time`` default to a new UUID and now."""

    data: EventData
    event_id: str | None = None
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublishResult:
    id: str
    source: str
    sequence: int
    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "sequence": self.sequence,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
        }


class Publisher:
    """Publishes as one source (``<org urn>/<instance>``) with that organisation's key.

    ``registry`` (the participants registry as read from the log) enables the fail-fast authority
    check; without it, consumers still reject what the source was not entitled to emit. Pass a
    shared ``sender`` to publish as several sources over one producer (the gateway does).
    """

    def __init__(
        self,
        *,
        key: PrivateKey,
        source: str,
        state_dir: Path,
        kafka: KafkaAccess | None = None,
        sender: RecordSender | None = None,
        registry: Registry | None = None,
        timeout_s: float = 15.0,
        producer_options: dict[str, Any] | None = None,
        time_bounds: TimeBounds | None = None,
    ) -> None:
        if org_of(source) != key.org:
            raise ContractError(f"source {source} does not belong to the key's org {key.org}")
        if (kafka is None) == (sender is None):
            raise ContractError("give exactly one of kafka or sender")
        self.source = source
        self.org = key.org
        self.registry = registry
        self._bounds = time_bounds or TimeBounds()
        """How far an event's time may lie from now: what every reader allows (a backfill window
        in the registry admits older history)."""
        self._signer = key.signer()
        self._state_dir = state_dir
        self._owns_sender = sender is None
        if sender is None:
            assert kafka is not None  # checked above
            sender = RecordSender(kafka, timeout_s=timeout_s, producer_options=producer_options)
        self._sender = sender
        self._store: ChainStore | None = None
        self._lock = asyncio.Lock()
        self._log = log.bind(source=source, org=self.org)

    async def __aenter__(self) -> Publisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Connect (bounded), take the source's lock, and settle anything left pending: look it
        up on the log, re-send what is not there."""
        if self._owns_sender:
            await self._sender.start()
        try:
            self._store = ChainStore(self._state_dir, self.source)
            await self._resend_pending()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self._owns_sender:
            await self._sender.stop()
        if self._store is not None:
            self._store.close()
            self._store = None

    def _require(self) -> ChainStore:
        if self._store is None or not self._sender.started:
            raise PublishError("publisher is not started (use `async with Publisher(...)`)")
        return self._store

    def chain_head(self) -> Link:
        """Where this source's chain stands (sequence 0: nothing published yet)."""
        return self._require().head()

    def known(self, event_id: str) -> Pending | Acknowledged | None:
        """What this source did with ``event_id``: signed and waiting, acknowledged, or nothing
        (within the last acknowledgements the chain store keeps)."""
        return self._require().lookup(event_id)

    def pending_ids(self) -> set[str]:
        """The event ids this source signed and saw no acknowledgement for yet."""
        return self._require().pending_ids()

    def check(self, drafts: Sequence[Draft]) -> None:
        """Fail fast, before anything is signed: each draft's time (the readers' skew, or a
        backfill window), our key's validity and our authority then."""
        for draft in drafts:
            if draft.data.TOPIC == PARTICIPANTS or self.registry is None:
                continue  # registry events: the trust anchor's signature is their authority
            now = datetime.now(UTC)
            at = draft.time or now
            if draft.time is not None:
                try:
                    check_time(self.registry, self.org, at, now, self._bounds, taken_by="now")
                except TimeSkewError:
                    REJECTED.labels(reason="time_skew").inc()
                    raise
            self.registry.key_for(self.org, self._signer.keyid, at)  # raises SignatureError
            decision = decide(self.registry, self.org, draft.data, at)
            if not decision.allowed:
                REJECTED.labels(reason="authority").inc()
                raise AuthorityError(decision.reason)

    async def publish(
        self, data: EventData, *, event_id: str | None = None, time: datetime | None = None
    ) -> PublishResult:
        return (await self.publish_many([Draft(data, event_id, time)]))[0]

    async def publish_many(self, drafts: Iterable[Draft]) -> list[PublishResult]:
        """Sign and send ``drafts`` as consecutive links of this source's chain, all in flight.

        Returns once the broker acknowledged every one. On failure raises ``PublishError``; the
        unacknowledged events stay in the outbox, and before anything new they are looked up on
        the log and re-sent only if not there. Acknowledgements are recorded as they came, even
        if this call is cancelled.
        """
        batch = list(drafts)
        self.check(batch)
        async with self._lock:
            store = self._require()
            await self._resend_pending()
            head = store.head()
            sequence, prevhash = head.sequence, head.hash
            signed: list[tuple[str, KafkaRecord, int, str]] = []
            source, signer = self.source, self._signer
            for draft in batch:
                sequence += 1  # each the next link: the last one's sequence + 1 and its hash
                sealed = seal_record(draft.data, source=source, signer=signer,
                                     sequence=sequence, prevhash=prevhash,
                                     event_id=draft.event_id, time=draft.time)
                record = sealed.record
                if len(record.value) > MAX_VALUE_BYTES:
                    REJECTED.labels(reason="oversized").inc()
                    raise ContractError(
                        f"event {sealed.envelope.id} data is {len(record.value)} bytes, "
                        f"limit {MAX_VALUE_BYTES}"
                    )
                prevhash = sealed.hash
                signed.append((sealed.envelope.id, record, sequence, prevhash))
            store.reserve(signed)
            return await self._send(store, [Pending(s, e, r) for e, r, s, _ in signed])

    async def _resend_pending(self) -> None:
        """Settle what an earlier attempt signed but saw no acknowledgement for, then re-send
        what is not on the log."""
        store = self._require()
        pending = store.pending()
        if pending:
            await self._sender.quiet()  # the session that lost them can no longer land one
        pending = await self._settle(store, pending)
        if pending:
            self._log.warning("pending_events_resent", count=len(pending))
            await self._send(store, pending)

    async def _settle(self, store: ChainStore, pending: Sequence[Pending]) -> list[Pending]:
        """Look ``pending`` up on the log by event id: those found there are acknowledged (not
        sent twice: a new producer session's idempotence does not cover an old session's
        records); the rest are returned.

        Without READ on the topics (an organisation's principal has WRITE only) they cannot be
        looked up and are all returned: re-sent, same id and bytes, so consumers drop a repeat.
        """
        if not pending:
            return []
        wanted: dict[str, set[str]] = {}
        keys: dict[str, set[bytes | None]] = {}
        for item in pending:
            wanted.setdefault(item.record.topic, set()).add(item.event_id)
            keys.setdefault(item.record.topic, set()).add(item.record.key)
        since = min(_signed_at(item) for item in pending) - CLOCK_SKEW
        kafka = self._sender.kafka
        try:
            found = await find_ids(kafka, wanted, since, timeout_s=self._sender.timeout_s,
                                   keys=keys)
        except (KafkaError, OSError, TimeoutError) as exc:
            if (refused := refusal(exc, kafka, "READ of " + ", ".join(sorted(wanted)))):
                self._log.warning("pending_events_not_looked_up", count=len(pending),
                                  reason=refused)
                return list(pending)
            raise PublishError(
                f"{len(pending)} events signed but not acknowledged could not be looked up on "
                f"the log ({type(exc).__name__}: {exc}); nothing was re-sent, they stay pending "
                f"in {store.path}"
            ) from exc
        on_log = [PublishResult(p.event_id, self.source, p.sequence, *found[p.event_id])
                  for p in pending if p.event_id in found]
        if on_log:
            store.acknowledge(on_log)
            self._sender.found_on_log(
                [p.record for p in pending if p.event_id in found],
                [Ack(r.topic, r.partition, r.offset) for r in on_log])
            self._log.warning("pending_events_found_on_log", count=len(on_log))
        return [p for p in pending if p.event_id not in found]

    async def _send(self, store: ChainStore, pending: Sequence[Pending]) -> list[PublishResult]:
        started = time.perf_counter()
        acks: list[Ack | str | None] = [None] * len(pending)
        results: list[PublishResult] = []
        failures: list[str] = []
        try:
            await self._sender.send([p.record for p in pending], acks)
        finally:  # also when cancelled: an acknowledgement received is recorded, never lost
            for item, ack in zip(pending, acks, strict=True):
                if isinstance(ack, Ack):
                    results.append(PublishResult(item.event_id, self.source, item.sequence,
                                                 ack.topic, ack.partition, ack.offset))
                else:
                    failures.append(f"{item.event_id} (seq {item.sequence}): {ack or 'not sent'}")
            store.acknowledge(results)
        elapsed = time.perf_counter() - started
        PUBLISH_LATENCY.observe(elapsed)
        PUBLISHED.labels(outcome="acknowledged").inc(len(results))
        if failures:
            PUBLISHED.labels(outcome="pending").inc(len(failures))
            self._log.error("events_not_acknowledged", count=len(failures), first=failures[0])
            raise PublishError(
                f"{len(failures)} of {len(pending)} events not acknowledged by the broker; they "
                f"stay pending in {store.path}, and next time are looked up on the log and "
                f"re-sent (first) only if not there: {failures[0]}"
            )
        if _debugging(self._log):  # a line per event only when it is written (not per call)
            for result in results:
                self._log.debug(
                    "event_published",
                    event_id=result.id,
                    topic=result.topic,
                    partition=result.partition,
                    offset=result.offset,
                    sequence=result.sequence,
                )
        if results:
            self._log.info(
                "events_published", count=len(results), first_event_id=results[0].id,
                last_sequence=results[-1].sequence, seconds=round(elapsed, 4),
            )
        return results


def _debugging(logger: Any) -> bool:
    """Whether ``logger`` writes debug lines (a logger that cannot say is taken to)."""
    enabled = getattr(logger, "is_enabled_for", None)
    return True if enabled is None else bool(enabled(logging.DEBUG))


def _signed_at(item: Pending) -> datetime:
    """The event's time (``ce_time``): no later than the send, so a search may start there."""
    try:
        return datetime.fromisoformat(dict(item.record.headers)["ce_time"].decode())
    except (KeyError, ValueError):
        return datetime(1970, 1, 1, tzinfo=UTC)
