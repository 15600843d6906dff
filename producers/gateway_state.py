"""The gateway's long-lived state: the shared sender, a fresh registry, custodial publishers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from producers.gateway_auth import ApiKeyStore
from producers.gateway_receipts import Receipts, ReceiptState
from producers.keys import key_file_name, load_key
from producers.metrics import GATEWAY_REGISTRY_REFRESHES
from producers.publisher import Publisher, PublishResult
from producers.sender import Ack, BrokerUnavailableError, PublishError, RecordSender
from schemas.base import EventData
from schemas.envelope import KafkaRecord, org_of
from schemas.errors import ContractError, EminingError
from schemas.registry import Registry
from schemas.signing import PrivateKey
from schemas.verify import EnvelopeVerifier

log = structlog.get_logger("producers.gateway")

CUSTODIAL_INSTANCE = "custodial-gateway"
"""Instance name of every custodial source (``<org>/custodial-gateway``): marks custody."""

RegistrySource = Callable[[], Awaitable[Registry]]
BrokerProbe = Callable[[], Awaitable[None]]
"""Returns when a broker answered a metadata request; raises otherwise."""

EventKey = tuple[str, str]
"""``(organisation, event id)``: the scope of an id's uniqueness at the gateway."""


class CustodyError(EminingError):
    """A custodial key is present but unusable (wrong organisation, readable by others...)."""


class RegistryUnavailableError(EminingError):
    """The registry was never read (broker down since start-up): no decision can be made."""


class EventQueuedError(PublishError):
    """Signed custodially but not acknowledged: the event waits in its source's outbox."""

    def __init__(self, message: str, answer: dict[str, Any]) -> None:
        super().__init__(message)
        self.answer = answer


class KafkaProbe:
    """A bounded metadata request on a consumer kept open between health checks."""

    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap
        self._timeout_ms = int(timeout_s * 1000)
        self._consumer: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._consumer is None:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap,
                    client_id="emining-gateway-health",
                    request_timeout_ms=self._timeout_ms,
                )
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                self._consumer = consumer
            try:
                await self._consumer.topics()
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[EventKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: EventKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class _ObservedSender(RecordSender):
    """The shared sender as custodial publishers see it: tells the state what reached it."""

    def __init__(self, shared: RecordSender, state: GatewayState) -> None:
        super().__init__(shared.bootstrap, timeout_s=shared.timeout_s)
        self._shared = shared
        self._state = state

    @property
    def started(self) -> bool:
        return self._shared.started

    async def send(self, records: Sequence[KafkaRecord]) -> list[Ack | str]:
        self._state._saw_signed(records)  # noqa: SLF001 - the two classes are one unit
        results = await self._shared.send(records)
        self._state._saw_results(records, results)  # noqa: SLF001
        return results


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a signed event belongs: its topic and its place in its source's chain."""

    topic: str
    source: str
    sequence: int


def _identity(record: KafkaRecord) -> tuple[EventKey, Origin]:
    headers = dict(record.headers)
    source = headers["ce_source"].decode()
    key = (org_of(source), headers["ce_id"].decode())
    return key, Origin(record.topic, source, int(headers["ce_sequence"]))


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


class GatewayState:
    """Everything the gateway's requests share; ``start``/``stop`` bracket its life."""

    def __init__(
        self,
        *,
        sender: RecordSender,
        load_registry: RegistrySource,
        trust_anchor: Iterable[bytes],
        api_keys: ApiKeyStore,
        custody_dir: Path,
        chain_dir: Path,
        receipts_dir: Path,
        max_body_bytes: int,
        registry_refresh_s: float = 30.0,
        min_refresh_gap_s: float = 1.0,
        probe: BrokerProbe | None = None,
        health_timeout_s: float = 3.0,
    ) -> None:
        self.sender = sender
        self.api_keys = api_keys
        self.custody_dir = custody_dir
        self.chain_dir = chain_dir
        self.receipts_dir = receipts_dir
        self.max_body_bytes = max_body_bytes
        self.id_locks = _KeyedLocks()
        self._load_registry = load_registry
        self._anchors = list(trust_anchor)
        self._refresh_s = registry_refresh_s
        self.min_refresh_gap_s = min_refresh_gap_s
        self._health_timeout_s = health_timeout_s
        self._kafka_probe: KafkaProbe | None = None
        if probe is None:
            probe = self._kafka_probe = KafkaProbe(sender.bootstrap, health_timeout_s)
        self._probe = probe
        self._observed = _ObservedSender(sender, self)
        self._install(Registry())
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._refresh_lock = asyncio.Lock()
        self._custody: dict[str, PrivateKey] = {}
        self._publishers: dict[str, Publisher] = {}
        self._publishers_lock = asyncio.Lock()
        self._watching: set[EventKey] = set()
        self._signed: dict[EventKey, Origin] = {}
        self._queued: set[EventKey] = set()
        self._receipts: Receipts | None = None
        self._maintenance: asyncio.Task[None] | None = None

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the receipts, connect (one bounded try), read the registry, keep both fresh."""
        self._receipts = Receipts(self.receipts_dir)
        stale = self._receipts.drop_stale_pending()
        if stale:
            log.warning("stale_claims_dropped", count=stale)
        self._queued = set(self._receipts.queued())
        await self._connect()
        await self.refresh_registry()
        self._maintenance = asyncio.create_task(self._maintain(), name="gateway-maintenance")

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with suppress(asyncio.CancelledError):
                await self._maintenance
        for publisher in self._publishers.values():
            await publisher.stop()
        self._publishers.clear()
        if self._kafka_probe is not None:
            await self._kafka_probe.close()
        await self.sender.stop()
        if self._receipts is not None:
            self._receipts.close()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[GatewayState]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    @property
    def receipts(self) -> Receipts:
        if self._receipts is None:
            raise EminingError("the gateway state is not started")
        return self._receipts

    async def _connect(self) -> None:
        if self.sender.started:
            return
        try:
            await self.sender.start()
        except BrokerUnavailableError as exc:
            log.warning("broker_unreachable", error=str(exc))
        else:
            log.info("broker_connected", bootstrap=self.sender.bootstrap)

    async def _maintain(self) -> None:
        tick = min(self._refresh_s, 5.0)
        while True:
            await asyncio.sleep(tick)
            await self._connect()
            if self._loaded_at is None or time.monotonic() - self._loaded_at >= self._refresh_s:
                await self.refresh_registry()

    async def broker_reachable(self) -> bool:
        if not self.sender.started:
            return False
        try:
            await asyncio.wait_for(self._probe(), self._health_timeout_s)
        except (EminingError, KafkaError, OSError, TimeoutError) as exc:
            log.warning("broker_probe_failed", error=repr(exc))
            return False
        return True

    # -- registry ------------------------------------------------------------------------------

    def _install(self, registry: Registry) -> None:
        self.registry = registry
        self.verifier = EnvelopeVerifier(registry, self._anchors)

    @property
    def registry_age_s(self) -> float | None:
        return None if self._loaded_at is None else time.monotonic() - self._loaded_at

    async def refresh_registry(self, *, min_gap_s: float = 0.0) -> None:
        """Re-read the registry from the log; skipped if one was tried within ``min_gap_s``."""
        async with self._refresh_lock:
            now = time.monotonic()
            if self._attempted_at is not None and now - self._attempted_at < min_gap_s:
                return
            self._attempted_at = now
            try:
                registry = await self._load_registry()
            except EminingError as exc:
                GATEWAY_REGISTRY_REFRESHES.labels(result="failed").inc()
                log.warning("registry_refresh_failed", error=str(exc))
                return
            self._install(registry)
            self._loaded_at = time.monotonic()
            GATEWAY_REGISTRY_REFRESHES.labels(result="loaded").inc()
            log.debug("registry_refreshed", organisations=len(registry.orgs))

    async def recheck(self, check: Callable[[], None]) -> None:
        """Run a registry check; if it fails, re-read the registry (rate-limited) and retry once.

        An organisation onboarded, keyed or granted a moment ago is then not refused for the
        refresh interval; anything else is refused with the second check's reason.
        """
        if self._loaded_at is not None:
            try:
                check()
            except ContractError:
                pass
            else:
                return
        await self.refresh_registry(min_gap_s=self.min_refresh_gap_s)
        if self._loaded_at is None:
            raise RegistryUnavailableError(
                "the participants registry has not been read from the log yet, so nothing can "
                "be checked or published: try again later"
            )
        check()

    # -- custody -------------------------------------------------------------------------------

    def custody_key(self, org: str) -> PrivateKey | None:
        """The key the gateway holds for ``org``, or None if it signs nothing for it."""
        cached = self._custody.get(org)
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
        self._custody[org] = key
        return key

    async def publisher(self, org: str, key: PrivateKey) -> Publisher:
        """The custodial publisher of ``org`` (started on first use, kept until ``stop``)."""
        publisher = self._publishers.get(org)
        if publisher is not None:
            return publisher
        async with self._publishers_lock:
            if org not in self._publishers:
                publisher = Publisher(
                    key=key,
                    source=f"{org}/{CUSTODIAL_INSTANCE}",
                    state_dir=self.chain_dir,
                    sender=self._observed,
                )
                await publisher.start()
                self._publishers[org] = publisher
            return self._publishers[org]

    async def publish_custodial(
        self, publisher: Publisher, data: EventData, event_id: str, at: datetime
    ) -> PublishResult:
        """Sign and send; ``EventQueuedError`` if it was signed but not acknowledged."""
        key = (publisher.org, event_id)
        self._watching.add(key)
        try:
            return await publisher.publish(data, event_id=event_id, time=at)
        except PublishError as exc:
            signed = self._signed.get(key)
            if signed is None:
                raise
            self._queued.add(key)
            answer = acceptance(event_id, signed, None, custody=True)
            raise EventQueuedError(str(exc), answer) from exc
        finally:
            self._watching.discard(key)
            self._signed.pop(key, None)

    async def flush(self, publisher: Publisher) -> None:
        """Re-send what waits in ``publisher``'s outbox; raises ``PublishError`` if still down."""
        await publisher.publish_many([])

    def _saw_signed(self, records: Sequence[KafkaRecord]) -> None:
        if not self._watching:
            return
        for record in records:
            key, signed = _identity(record)
            if key in self._watching:
                self._signed[key] = signed

    def _saw_results(self, records: Sequence[KafkaRecord], results: Sequence[Ack | str]) -> None:
        if not self._queued:
            return
        for record, result in zip(records, results, strict=True):
            key, signed = _identity(record)
            if key in self._queued and isinstance(result, Ack):
                self._queued.discard(key)
                answer = acceptance(key[1], signed, result, custody=True)
                self.receipts.settle(*key, ReceiptState.ACCEPTED, answer)
                log.info("queued_event_acknowledged", org=key[0], event_id=key[1],
                         topic=result.topic, partition=result.partition, offset=result.offset)
