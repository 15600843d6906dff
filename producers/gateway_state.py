"""The gateway's long-lived state: the shared sender, a fresh registry, receipts, custody."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import structlog

from producers.gateway_auth import ApiKeyStore
from producers.gateway_custody import Custody, EventKey
from producers.gateway_receipts import Receipts
from producers.metrics import GATEWAY_REGISTRY_REFRESHES
from producers.registry_reader import RegistryUnavailableError
from schemas.base import EventData
from schemas.errors import ContractError, EminingError
from schemas.registry import Registry
from schemas.timing import TimeBounds
from schemas.verify import EnvelopeVerifier
from transport.access import KafkaAccess
from transport.errors import BrokerUnavailableError
from transport.kafka import KafkaError
from transport.read import group_less
from transport.sender import RecordSender

log = structlog.get_logger("producers.gateway")

RegistrySource = Callable[[], Awaitable[Registry]]
BrokerProbe = Callable[[], Awaitable[None]]
"""Returns when a broker answered a metadata request; raises otherwise."""


class KafkaProbe:
    """A bounded metadata request on a consumer kept open between health checks."""

    def __init__(self, kafka: KafkaAccess, timeout_s: float) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._consumer: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            if self._consumer is None:
                consumer = group_less(self._kafka, self._timeout_s,
                                      client_id="emining-gateway-health")
                try:
                    await consumer.start()
                except BaseException:
                    await consumer.stop()
                    raise
                self._consumer = consumer
            try:
                try:
                    await self._consumer.topics()
                except KafkaError:
                    # The broker may have closed an idle connection (connections.max.idle.ms)
                    # or restarted: once more, on a fresh connection, before calling it
                    # unreachable.
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


StatusLookup = Callable[[str, str], Awaitable[tuple[bool, str | None]]]
"""(subject, topic) → whether the views are caught up with the subject's partition, and the
subject's status there (``None`` when the file is not there)."""
SubjectJudge = Callable[[EventData], Awaitable[tuple[int, str, str] | None]]
"""An event → why the views would refuse it on its subject as it stands (HTTP status, reason,
detail: a party that is not the subject's, a subject that exists already, a fact its state
rules out), or ``None`` (also when the views are behind the subject's partition)."""


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
        status_of: StatusLookup | None = None,
        time_bounds: TimeBounds | None = None,
    ) -> None:
        self.sender = sender
        self.time_bounds = time_bounds or TimeBounds()
        """How far an event's time may lie from now when the gateway takes it (as the
        consumers judge it against the broker's append time)."""
        self.status_of = status_of
        """The current status of a file, as the views hold it, for the lifecycle check before
        publishing; ``None``: not checked here (the consumers still refuse)."""
        self.judge: SubjectJudge | None = None
        """The views' own refusals of an event on its subject, checked before publishing;
        ``None``: not checked here (the consumers still refuse)."""
        self.api_keys = api_keys
        self.custody = Custody(sender=sender, custody_dir=custody_dir, chain_dir=chain_dir)
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
            probe = self._kafka_probe = KafkaProbe(sender.kafka, health_timeout_s)
        self._probe = probe
        self._install(Registry())
        self._loaded_at: float | None = None
        self._attempted_at: float | None = None
        self._refresh_lock = asyncio.Lock()
        self._receipts: Receipts | None = None
        self._maintenance: asyncio.Task[None] | None = None

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the receipts (settle what a crash left), connect once, read the registry, and
        keep both fresh."""
        self._receipts = Receipts(self.receipts_dir)
        try:
            self.custody.recover(self._receipts)  # before any custodial publisher locks a chain
        except BaseException:
            self._receipts.close()
            self._receipts = None
            raise
        self.custody.open(self._receipts)
        await self._connect()
        await self.refresh_registry()
        self._maintenance = asyncio.create_task(self._maintain(), name="gateway-maintenance")

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with suppress(asyncio.CancelledError):
                await self._maintenance
        await self.custody.close()
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
            log.info("broker_connected", kafka=self.sender.kafka.describe())

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
