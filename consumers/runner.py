"""The view consumer: a FastStream batch subscriber feeding ``ViewSync``, positioned by the store.

Built on FastStream as the rest of the bus, configured against its at-most-once defaults:
``batch=True`` (one store transaction per poll), ``ack_policy=MANUAL`` (so FastStream sets
``enable_auto_commit=False``: nothing is committed behind the store's back),
``auto_offset_reset="earliest"``, no topic auto-creation, and a pass-through ``parser``/``decoder``
so records whose headers are not UTF-8 or are ``None`` reach the verification stage instead of
crashing FastStream's parser. The ``listener`` seeks every assigned partition to the store's next
offset. The offsets live in the views store; they are also committed to Kafka, once the store
has them (after each batch's transaction, and the stored ones on assignment), only so that
``kafka-consumer-groups``, Burrow and lag exporters see the group's lag. Kafka's committed
offsets are never read back: what keeps the views exact is the offset check inside each batch
transaction (``consumers.sync``), so a rebalance in the middle of a batch, or two processes
briefly holding one partition, cannot double or lose an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import structlog
from faststream import AckPolicy
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from consumers.alerts.plugin import AlertsPlugin
from consumers.config import ViewsConfig
from consumers.dlq import DeadLetterQueue, RejectionHook
from consumers.metrics import (
    VIEW_BROKER_UP,
    VIEW_KAFKA_COMMIT_FAILURES,
    VIEW_LAG,
    VIEW_RECONNECTS,
)
from consumers.pipeline import Pipeline
from consumers.registry_follower import RegistryFollower
from consumers.store import SchemaMismatchError, ViewStore
from consumers.store_batch import lock_offsets
from consumers.sync import ViewSync
from consumers.verification import VerificationStage
from consumers.verify_pool import VerifyPool
from schemas.errors import EminingError
from transport.access import KafkaAccess, refusal
from transport.faststream import KafkaBroker, KafkaMessage, make_broker, no_body, raw_batch
from transport.kafka import ConsumerRebalanceListener, KafkaConnectionError, TopicPartition
from transport.memory import Trimmer
from transport.meta import connection_problem, partition_counts
from transport.read import end_offsets, seek_to
from transport.sender import RecordSender

log = structlog.get_logger("consumers.runner")

RETRY_PAUSE_S = 1.0

GC_THRESHOLDS = (50_000, 20, 100)
"""The cyclic collector's thresholds while the views run (CPython's default: 700, 10, 10)."""


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """Keep CPython's cyclic garbage collector from walking the whole heap every few batches.

    Catching up, the consumer keeps many objects alive (held records and their verdicts, the
    document cache) and allocates fast, so with the default thresholds a full collection ran
    every ~1,500 events and took 120-290 ms (profiled: ~15% of the time of
    ``benchmarks.bench_views``). Almost all of the consumer's garbage is freed by reference
    counting; the cyclic collector only needs to run now and then. The objects made at start
    (modules, the registry, the schemas' validators) are frozen out of its walks for good.
    Restored when the views stop (tests run them inside their own process)."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


class ViewsUnavailableError(EminingError):
    """The view consumer could not connect to the broker as its principal."""


class RefusalLog:
    """FastStream's logger for the views' broker: quiet, except for the broker's refusals.

    FastStream catches every Kafka error of its poll loop and retries every few seconds; with
    no logger a consumer whose group or topics the ACLs do not allow would wait in silence.
    Each distinct refusal is logged once, as a sentence naming the principal and the operation.
    """

    def __init__(self, kafka: KafkaAccess, operation: str) -> None:
        self._kafka, self._operation = kafka, operation
        self._said: set[str] = set()

    def log(self, _level: int, _msg: Any, /, *, exc_info: Any = None,
            extra: Mapping[str, Any] | None = None) -> None:  # noqa: ARG002 - FastStream's API
        if not isinstance(exc_info, BaseException):
            return
        reason = refusal(exc_info, self._kafka, self._operation)
        if reason is not None and reason not in self._said:
            self._said.add(reason)
            log.error("kafka_refused", reason=reason)


POLL_WAIT_MS = 10
"""How long a poll waits for a record. FastStream's batch subscriber waits this long in
``getmany`` and, when nothing came, *sleeps* as long again before the next poll; at its default
(200 ms) a record arriving during that sleep waited up to 200 ms for nothing
(``faststream/kafka/subscriber/usecase.py``, ``BatchSubscriber.get_msg``). An idle consumer now
polls ~50 times a second: aiokafka fetches in the background, so a poll reads its buffer,
no request to the broker (docs/performance.md, "Sixth pass")."""


async def commit_to_kafka(consumer: Any, offsets: Mapping[tuple[str, int], int],
                          timeout_s: float) -> bool:
    """Commit offsets the views store already holds to the group in Kafka, for lag tools.

    Only the partitions the consumer still owns; a failure (a rebalance under way, the broker
    away, a timeout) is logged and counted, never raised: the next batch commits again, and
    the store stays the source of truth either way.
    """
    owned = consumer.assignment()
    wanted = {tp: offset for tp, offset in
              ((TopicPartition(*key), offset) for key, offset in offsets.items()) if tp in owned}
    if not wanted:
        return True
    try:
        await asyncio.wait_for(consumer.commit(wanted), timeout_s)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the views go on
        VIEW_KAFKA_COMMIT_FAILURES.inc()
        log.warning("kafka_commit_failed", error=repr(exc)[:300],
                    partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in wanted))
        return False
    return True


async def set_lag(consumer: Any, stored: Mapping[tuple[str, int], int],
                  timeout_s: float) -> bool:
    """Set the lag gauge of every partition in ``stored`` (its next offset in the store) from
    the log's end, whether or not a record ever comes for it: an idle partition shows 0, one
    assigned behind shows how far. Batches keep it up to date from there. A failure to ask the
    broker is logged, never raised: the assignment goes on."""
    if not stored:
        return True
    partitions = [TopicPartition(*key) for key in sorted(stored)]
    try:
        ends = await end_offsets(consumer, partitions, timeout_s=timeout_s)
    except Exception as exc:  # noqa: BLE001 - the gauge waits for the next batch instead
        log.warning("lag_unavailable", error=repr(exc)[:300],
                    partitions=[f"{tp.topic}[{tp.partition}]" for tp in partitions])
        return False
    for tp, end in ends.items():
        offset = stored[(tp.topic, tp.partition)]
        VIEW_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(max(end - offset, 0))
    return True


def forget_lag(partitions: set[TopicPartition]) -> None:
    """Drop the lag series of partitions this consumer no longer owns (another reports them)."""
    for tp in partitions:
        with contextlib.suppress(KeyError):
            VIEW_LAG.remove(tp.topic, str(tp.partition))


class SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, move each partition to the store's next offset for it, set its lag gauge
    from the log's end (idle partitions included) and commit that offset to Kafka, so lag tools
    see every assigned partition, read since or not."""

    def __init__(self, store: ViewStore, sync: ViewSync, commit_timeout_s: float = 10.0) -> None:
        self._store, self._sync = store, sync
        self._commit_timeout_s = commit_timeout_s
        self.subscriber: Any = None
        """Set once the subscriber exists; FastStream creates its consumer when it starts."""

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("partitions_revoked", partitions=sorted(f"{t.topic}[{t.partition}]"
                                                         for t in revoked))
        forget_lag(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._sync.control = self.subscriber.consumer  # ownership known before any batch
        if not assigned:
            return
        async with self._store.writing() as (conn, tables):
            stored = await lock_offsets(conn, tables, [(t.topic, t.partition) for t in assigned])
        seek_to(self.subscriber.consumer, {tp: stored[(tp.topic, tp.partition)]
                                           for tp in assigned})
        for tp in assigned:
            self._sync.positioned(tp.topic, tp.partition, stored[(tp.topic, tp.partition)])
        log.info("partitions_assigned", partitions={f"{k[0]}[{k[1]}]": v
                                                    for k, v in sorted(stored.items())})
        await set_lag(self.subscriber.consumer, stored, self._commit_timeout_s)
        await commit_to_kafka(self.subscriber.consumer, stored, self._commit_timeout_s)


def build_broker(config: ViewsConfig, store: ViewStore, sync: ViewSync,
                 pipeline: Pipeline | None = None) -> KafkaBroker:
    """The FastStream broker with the views' batch subscriber (not started); with ``pipeline``
    the subscriber hands each batch to it (verified ahead on a second core) instead of
    applying it there and then."""
    consumed = ", ".join(config.topics.consumed())
    refusals = RefusalLog(config.kafka, f"READ of {consumed} in group {config.group_id}")
    broker = make_broker(config.kafka, timeout_s=config.timeout_s, logger=refusals,
                         graceful_timeout=30.0)
    listener = SeekToStored(store, sync, config.timeout_s)
    trimmer = Trimmer()  # without a pipeline, which gives the freed memory back itself
    subscriber = broker.subscriber(
        *config.topics.consumed(), group_id=config.group_id,
        group_instance_id=config.instance_id, batch=True, max_records=config.batch_size,
        batch_timeout_ms=POLL_WAIT_MS,
        auto_offset_reset="earliest", ack_policy=AckPolicy.MANUAL, listener=listener,
        parser=raw_batch, decoder=no_body, isolation_level="read_committed",
        session_timeout_ms=config.session_timeout_ms,
        heartbeat_interval_ms=max(config.session_timeout_ms // 10, 100),
        title="views", description="Keeps the synchronized views in step with the shared topics",
    )

    @subscriber
    async def apply_batch(msg: KafkaMessage) -> None:
        consumer = subscriber.consumer
        if pipeline is not None:
            await pipeline.take(msg.raw_message, consumer)
            return
        try:
            outcome = await sync.apply(msg.raw_message, consumer)  # type: ignore[arg-type]
        except Exception:
            log.exception("batch_failed", records=len(msg.raw_message))
            await asyncio.sleep(RETRY_PAUSE_S)
            return
        finally:
            trimmer.maybe()
            trimmer.soon()
        # after the store's transaction, never before: Kafka only mirrors what the store holds
        await commit_to_kafka(consumer, outcome.committed, config.timeout_s)

    listener.subscriber = subscriber
    return broker


async def _start(broker: KafkaBroker, config: ViewsConfig) -> None:
    """Start the subscriber; a connection failure whose cause is the credential says so."""
    try:
        await broker.start()
    except KafkaConnectionError as exc:
        reason = await connection_problem(config.kafka, config.timeout_s)
        if reason is None:
            raise
        raise ViewsUnavailableError(f"the view consumer cannot start: {reason}") from exc


async def run_views(
    config: ViewsConfig, stop: asyncio.Event, hooks: Sequence[RejectionHook] = (),
    alerts: AlertsPlugin | None = None, worker_setup: Callable[[], object] | None = None,
) -> None:
    """Keep the views in step until ``stop`` is set (raising alerts too, when given).
    ``worker_setup`` runs first in the verify worker (``config.verify_workers``): logging."""
    store = ViewStore(config.store_url, inline=True)
    try:
        await store.open(check_views=True)  # the one reader that needs every view
        if alerts is not None:
            await alerts.prepare(store)
        async with (
            RegistryFollower(config.kafka, config.trust_anchor,
                             topic=config.topics.participants,
                             timeout_s=config.timeout_s) as follower,
            RecordSender(config.kafka, timeout_s=config.timeout_s) as sender,
        ):
            counts = await partition_counts(config.kafka, list(config.topics.consumed()),
                                            timeout_s=config.timeout_s)
            stage = VerificationStage(follower, config.trust_anchor, config.topics.consumed(),
                                      counts, config.time_bounds)
            alert_hooks, batch_hook = alerts.attach(follower.registry) if alerts else ([], None)
            dlq = DeadLetterQueue(sender, config.topics.dlq, config.consumer_name,
                                  (*hooks, *alert_hooks))
            sync = ViewSync(store, stage, dlq, registry=follower, alerts=batch_hook,
                            gap_grace_s=config.gap_grace_s)
            pool = (VerifyPool(config.trust_anchor, config.topics.consumed(), counts,
                               config.time_bounds, worker_setup)
                    if config.verify_workers else None)
            pipeline = None if pool is None else Pipeline(
                sync, pool, follower,
                lambda consumer, offsets: commit_to_kafka(consumer, offsets, config.timeout_s))
            broker = build_broker(config, store, sync, pipeline)
            async with contextlib.AsyncExitStack() as stack:
                if pool is not None and pipeline is not None:
                    pool.start()  # while the consumer joins its group
                    stack.callback(pool.close)
                    applier = asyncio.create_task(pipeline.run())
                    stack.push_async_callback(pipeline.stop, applier)
                await stack.enter_async_context(broker)  # closed first: no batch is taken after
                await _start(broker, config)
                log.info("views_started", store=store.display_url, group=config.group_id,
                         instance=config.instance_id,
                         topics=list(config.topics.consumed()))
                sweeper = asyncio.create_task(_sweep_gaps(sync, stop, config.gap_grace_s))
                try:
                    with collector_tuned():
                        if alerts is None:
                            await stop.wait()
                        else:
                            await alerts.run(store, sync.owned, stop, sync.ends)
                finally:
                    sweeper.cancel()
                    await asyncio.gather(sweeper, return_exceptions=True)
    finally:
        await store.close()


async def _sweep_gaps(sync: ViewSync, stop: asyncio.Event, grace_s: float) -> None:
    """Alert gaps whose grace ran out though no batch came since (``ViewSync.sweep_gaps``),
    every quarter of the grace (1 to 15 s) until ``stop``."""
    interval = min(max(grace_s / 4, 1.0), 15.0)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        try:
            await sync.sweep_gaps()
        except Exception:  # the next sweep, or the next batch, tries again
            log.exception("gap_sweep_failed")


RECONNECT_MAX_S = 30.0
_PERMANENT = (ViewsUnavailableError, SchemaMismatchError)
"""A credential the broker refuses, a views store of another version: an operator's fix."""


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, Exception) and not isinstance(exc, _PERMANENT)


async def run_views_forever(
    config: ViewsConfig, stop: asyncio.Event,
    alerts: Callable[[], AlertsPlugin | None] = lambda: None,
    worker_setup: Callable[[], object] | None = None,
) -> None:
    """``run_views`` until ``stop``, starting again with backoff (1 s doubling to 30 s, with
    jitter) whenever the broker is lost or cannot be reached, for as long as it takes. Exactly
    once is unaffected: each start seeks to the offsets stored with the views. A broker that
    refuses the consumer's credential is not retried: that is an operator's fix."""

    async def pause(seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    def lost(state: RetryCallState) -> None:
        VIEW_BROKER_UP.set(0)
        VIEW_RECONNECTS.inc()
        error = state.outcome.exception() if state.outcome else None
        log.warning("views_reconnecting", attempt=state.attempt_number,
                    in_s=round(state.upcoming_sleep, 1), error=repr(error)[:300])

    retrying = AsyncRetrying(
        retry=retry_if_exception(_worth_retrying),
        wait=wait_exponential_jitter(initial=1.0, max=RECONNECT_MAX_S),
        sleep=pause, before_sleep=lost, reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            if stop.is_set():
                return
            VIEW_BROKER_UP.set(1)
            await run_views(config, stop, alerts=alerts(), worker_setup=worker_setup)
