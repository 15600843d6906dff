"""Custodial signing at the gateway: a publisher per organisation, and each event's fate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from producers.chainstore import Acknowledged, ChainStore, Pending, chain_path
from producers.gateway_receipts import Receipts, ReceiptState
from producers.keys import key_file_name, load_key
from producers.publisher import Draft, Publisher
from schemas.base import EventData
from schemas.envelope import KafkaRecord, org_of
from schemas.errors import EminingError
from schemas.signing import PrivateKey
from transport.errors import PublishError
from transport.sender import Ack, RecordSender

log = structlog.get_logger("producers.gateway")

CUSTODIAL_INSTANCE = "custodial-gateway"
"""Instance name of every custodial source (``<org>/custodial-gateway``): marks custody."""

EventKey = tuple[str, str]
"""``(organisation, event id)``: the scope of an id's uniqueness at the gateway."""


class CustodyError(EminingError):
    """A custodial key is present but unusable (wrong organisation, readable by others...)."""


class EventQueuedError(PublishError):
    """Signed custodially but not acknowledged: the event waits in its source's outbox."""

    def __init__(self, message: str, answer: dict[str, Any]) -> None:
        super().__init__(message)
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a signed event belongs: its topic and its place in its source's chain."""

    topic: str
    source: str
    sequence: int


def acceptance(event_id: str, origin: Origin, ack: Ack | None, *, custody: bool) -> dict[str, Any]:
    """The 202 body: what the client keeps as its receipt."""
    return {
        "id": event_id,
        "topic": ack.topic if ack else origin.topic,
        "partition": ack.partition if ack else None,
        "offset": ack.offset if ack else None,
        "source": origin.source,
        "sequence": origin.sequence,
        "custody": custody,
    }


def _identity(record: KafkaRecord) -> tuple[EventKey, Origin]:
    headers = dict(record.headers)
    source = headers["ce_source"].decode()
    key = (org_of(source), headers["ce_id"].decode())
    return key, Origin(record.topic, source, int(headers["ce_sequence"]))


def settle_from_chain(
    receipts: Receipts,
    org: str,
    event_id: str,
    source: str,
    found: Pending | Acknowledged | None,
    what: str = "stale_claim_recovered",
) -> None:
    """Settle the claim of ``event_id`` as its custodial chain store says: accepted with the
    answer its request would have had, queued, or released (never signed); logged as ``what``."""
    bound = log.bind(org=org, event_id=event_id)
    if isinstance(found, Acknowledged):
        origin = Origin(found.topic, source, found.sequence)
        ack = None
        if found.partition is not None and found.offset is not None:
            ack = Ack(found.topic, found.partition, found.offset)
        receipts.settle(org, event_id, ReceiptState.ACCEPTED,
                        acceptance(event_id, origin, ack, custody=True))
        bound.warning(what, outcome="accepted", topic=found.topic,
                      partition=found.partition, offset=found.offset, sequence=found.sequence)
    elif isinstance(found, Pending):
        _, origin = _identity(found.record)
        receipts.settle(org, event_id, ReceiptState.QUEUED,
                        acceptance(event_id, origin, None, custody=True))
        bound.warning(what, outcome="queued", sequence=found.sequence)
    else:
        receipts.release(org, event_id)
        bound.warning(what, outcome="dropped")


MAX_BATCH = 256
"""Most events of one organisation signed and sent as one batch."""

_Waiting = tuple[Draft, "asyncio.Future[dict[str, Any]]"]


class _ObservedSender(RecordSender):
    """The shared sender as custodial publishers see it: tells custody what reached it."""

    def __init__(self, shared: RecordSender, custody: Custody) -> None:
        super().__init__(shared.kafka, timeout_s=shared.timeout_s)
        self._shared = shared
        self._custody = custody

    @property
    def started(self) -> bool:
        return self._shared.started

    async def send(self, records: Sequence[KafkaRecord],
                   results: list[Ack | str | None] | None = None) -> list[Ack | str]:
        self._custody.saw_signed(records)
        try:
            answers = await self._shared.send(records, results)
        except asyncio.CancelledError:
            if results is not None:
                self._custody.saw_results(records, [r or "not sent" for r in results])
            raise
        self._custody.saw_results(records, answers)
        return answers

    def found_on_log(self, records: Sequence[KafkaRecord], acks: Sequence[Ack]) -> None:
        self._custody.saw_results(records, acks)

    async def quiet(self) -> None:
        await self._shared.quiet()  # the session that lost records is the shared one


class Custody:
    """Keys held for organisations, their publishers, and events signed but not acknowledged.

    Whether an unacknowledged event was signed is seen at the sender: a record that reached it
    was signed and reserved in its source's outbox, so re-sending its id must flush that outbox,
    never sign the id again. When such a queued event is acknowledged later (a retry, the
    organisation's next event, a restart), its receipt is settled with where it landed. A claim
    a crash left pending is settled at start-up from the chain store (``recover``).
    """

    def __init__(self, *, sender: RecordSender, custody_dir: Path, chain_dir: Path) -> None:
        self.custody_dir = custody_dir
        self.chain_dir = chain_dir
        self._observed = _ObservedSender(sender, self)
        self._keys: dict[str, PrivateKey] = {}
        self._keyids: dict[str, str] = {}
        self._publishers: dict[str, Publisher] = {}
        self._publishers_lock = asyncio.Lock()
        self._watching: set[EventKey] = set()
        self._signed: dict[EventKey, Origin] = {}
        self._queued: set[EventKey] = set()
        self._acked: dict[EventKey, dict[str, Any]] = {}
        self._batches: dict[str, list[_Waiting]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}
        self._receipts: Receipts | None = None

    def open(self, receipts: Receipts) -> None:
        self._receipts = receipts
        self._queued = set(receipts.queued())

    def restore_receipt(self, receipts: Receipts, publisher: Publisher, event_id: str) -> bool:
        """Re-create the receipt of ``event_id`` from ``publisher``'s chain store, if it knows
        the id (a receipt a power loss took back): accepted with its first answer, or queued and
        watched, so that its acknowledgement settles it with where it landed."""
        found = publisher.known(event_id)
        if found is None:
            return False
        receipts.claim(publisher.org, event_id)  # the row that was taken back, settled at once
        settle_from_chain(receipts, publisher.org, event_id, publisher.source, found,
                          what="receipt_restored_from_chain")
        if isinstance(found, Pending):
            self._queued.add((publisher.org, event_id))
        return True

    def recover(self, receipts: Receipts) -> None:
        """Settle the claims a crashed process left pending, from what its chain stores hold.

        Call at start-up, before ``open`` and before any custodial publisher holds a chain
        store's lock. An event the broker acknowledged is accepted with the answer its request
        would have had (a retry gets it with 409); one still in the outbox is queued (a retry
        delivers it); one never signed custodially is forgotten, as is any pre-signed event (the
        gateway keeps nothing of those: a retry sends the same bytes again).
        """
        stale: dict[str, list[str]] = {}
        for org, event_id in receipts.stale_pending():
            stale.setdefault(org, []).append(event_id)
        for org, event_ids in stale.items():
            source = f"{org}/{CUSTODIAL_INSTANCE}"
            store = None
            if chain_path(self.chain_dir, source).exists():  # never create a store to look
                store = ChainStore(self.chain_dir, source)
            try:
                for event_id in event_ids:
                    found = store.lookup(event_id) if store is not None else None
                    settle_from_chain(receipts, org, event_id, source, found)
            finally:
                if store is not None:
                    store.close()

    async def close(self) -> None:
        for publisher in self._publishers.values():
            await publisher.stop()
        self._publishers.clear()

    def key(self, org: str) -> PrivateKey | None:
        """The key the gateway holds for ``org``, or None if it signs nothing for it."""
        cached = self._keys.get(org)
        if cached is not None:
            return cached
        path = self.custody_dir / key_file_name(org)
        if not path.exists():
            return None
        try:
            key = load_key(path)
        except EminingError as exc:
            raise CustodyError(f"custodial key of {org} is unusable: {exc}") from exc
        if key.org != org:
            raise CustodyError(f"custodial key file {path} belongs to {key.org}, not {org}")
        self._keys[org] = key
        self._keyids[org] = key.keyid  # derived from the seed: ~45 µs, so once per org
        return key

    def keyid(self, org: str) -> str:
        """Key id of the custodial key of ``org`` (after ``key`` found one)."""
        return self._keyids[org]

    async def publisher(self, key: PrivateKey) -> Publisher:
        """The custodial publisher of ``key.org`` (started on first use, kept until ``close``)."""
        publisher = self._publishers.get(key.org)
        if publisher is not None:
            return publisher
        async with self._publishers_lock:
            if key.org not in self._publishers:
                publisher = Publisher(
                    key=key,
                    source=f"{key.org}/{CUSTODIAL_INSTANCE}",
                    state_dir=self.chain_dir,
                    sender=self._observed,
                )
                await publisher.start()
                self._publishers[key.org] = publisher
            return self._publishers[key.org]

    async def publish(
        self, publisher: Publisher, data: EventData, event_id: str, at: datetime
    ) -> dict[str, Any]:
        """Sign and send; the receipt, or ``EventQueuedError`` if signed but not acknowledged.

        Events of one organisation that arrive while its previous batch is in flight go out
        together as the next batch: one chain append, one round trip to the broker for all.
        """
        key = (publisher.org, event_id)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._watching.add(key)
        self._batches.setdefault(publisher.org, []).append((Draft(data, event_id, at), future))
        if publisher.org not in self._flushers:
            self._flushers[publisher.org] = asyncio.create_task(self._send_batches(publisher))
        try:
            return await asyncio.shield(future)
        finally:
            self._watching.discard(key)
            self._signed.pop(key, None)
            self._acked.pop(key, None)

    async def _send_batches(self, publisher: Publisher) -> None:
        waiting = self._batches[publisher.org]
        try:
            while waiting:
                batch = waiting[:MAX_BATCH]
                del waiting[:MAX_BATCH]
                await self._send_batch(publisher, batch)
        finally:
            del self._flushers[publisher.org]

    async def _send_batch(self, publisher: Publisher, batch: list[_Waiting]) -> None:
        try:
            results = await publisher.publish_many([draft for draft, _ in batch])
        except PublishError as exc:
            for draft, future in batch:
                fate = self._fate(publisher.org, draft, exc)
                if isinstance(fate, Exception):
                    future.set_exception(fate)
                else:
                    future.set_result(fate)
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the batch's error
            for _, future in batch:
                future.set_exception(exc)
        else:
            for (_, future), r in zip(batch, results, strict=True):
                origin = Origin(r.topic, r.source, r.sequence)
                future.set_result(
                    acceptance(r.id, origin, Ack(r.topic, r.partition, r.offset), custody=True)
                )

    def _fate(self, org: str, draft: Draft, exc: PublishError) -> dict[str, Any] | Exception:
        """What a failed batch means for one of its events (the sender saw each record)."""
        event_id = draft.event_id or ""
        key = (org, event_id)
        if key in self._acked:  # acknowledged although others of its batch were not
            return self._acked[key]
        signed = self._signed.get(key)
        if signed is None:
            return PublishError(str(exc))
        self._queued.add(key)
        return EventQueuedError(str(exc), acceptance(event_id, signed, None, custody=True))

    async def flush(self, publisher: Publisher) -> None:
        """Re-send what waits in ``publisher``'s outbox; raises ``PublishError`` if still down."""
        await publisher.publish_many([])

    def saw_signed(self, records: Sequence[KafkaRecord]) -> None:
        if not self._watching:
            return
        for record in records:
            key, signed = _identity(record)
            if key in self._watching:
                self._signed[key] = signed

    def saw_results(self, records: Sequence[KafkaRecord], results: Sequence[Ack | str]) -> None:
        if not (self._queued or self._watching) or self._receipts is None:
            return
        for record, result in zip(records, results, strict=True):
            if not isinstance(result, Ack):
                continue
            key, signed = _identity(record)
            if key in self._watching:
                self._acked[key] = acceptance(key[1], signed, result, custody=True)
            if key in self._queued:
                self._queued.discard(key)
                answer = acceptance(key[1], signed, result, custody=True)
                self._receipts.settle(*key, ReceiptState.ACCEPTED, answer)
                log.info("queued_event_acknowledged", org=key[0], event_id=key[1],
                         topic=result.topic, partition=result.partition, offset=result.offset)
