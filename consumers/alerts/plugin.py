"""The alerts inside the view consumer: batch stage, security hook, deadline timer, delivery.

``consumers.runner.run_views(..., alerts=AlertsPlugin(...))`` wires it: ``prepare`` creates the
alert tables, ``attach`` gives the DLQ's rejection hook and the batch hook for ``ViewSync``, and
``run`` drives the timer and the delivery workers while the consumer runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts.clock import Clock
from consumers.alerts.config import AlertConfig
from consumers.alerts.context import Context
from consumers.alerts.directory import Directory
from consumers.alerts.model import Notice
from consumers.alerts.render import alert_of
from consumers.alerts.security import security_notices
from consumers.alerts.stage import AlertStage
from consumers.alerts.store import AlertStore, record_alerts
from consumers.alerts.timers import DeadlineTimer, Ends
from consumers.dlq import DeadLetter, RejectionHook
from consumers.fold import Changes, Position
from consumers.store import ViewStore
from consumers.store_schema import Tables
from consumers.verification import Accepted
from schemas.registry import Registry

log = structlog.get_logger("consumers.alerts")

Workers = Callable[[AlertStore, asyncio.Event, asyncio.Event], Awaitable[None]]
"""``workers(store, wake, stop)``: deliver the outbox (Kafka, push channels) until ``stop``."""


class BatchAlerts:
    """The batch hook: event alerts, deadlines, and the security alerts of the batch's dead
    letters, all recorded in the batch's transaction."""

    def __init__(self, stage: AlertStage) -> None:
        self.stage = stage
        self.security: dict[str, Notice] = {}
        """Security notices from the DLQ hook, waiting for the transaction that rejected them."""

    async def rejected(self, letter: DeadLetter) -> None:
        """The DLQ's rejection hook: it runs inside the batch transaction, so it only collects."""
        ctx = Context(self.stage.clock.now(), self.stage.config, self.stage.directory)
        for notice in security_notices(letter, ctx):
            self.security[notice.alert_id] = notice

    async def on_batch(self, conn: AsyncConnection, tables: Tables,
                       applied: Sequence[tuple[Accepted, Position]], changes: Changes) -> list[str]:
        new = await self.stage.on_batch(conn, tables, applied, changes)
        if self.security:
            now = self.stage.clock.now()
            notices, self.security = list(self.security.values()), {}
            raised = await record_alerts(conn, [alert_of(n, self.stage.directory, now)
                                                for n in notices])
            for notice in notices:
                if notice.alert_id in raised:
                    log.warning("security_alert_raised", alert_id=notice.alert_id,
                                org=notice.recipient, dlq_id=notice.cause.key)
            new += raised
        return new

    def committed(self, new: Sequence[str]) -> None:
        self.stage.committed(new)


class AlertsPlugin:
    def __init__(self, config: AlertConfig, clock: Clock, workers: Workers | None = None, *,
                 timer_interval_s: float = 30.0) -> None:
        self.config, self.clock, self._workers = config, clock, workers
        self._interval = timer_interval_s
        self.wake = asyncio.Event()
        self._batch: BatchAlerts | None = None
        self._directory: Directory | None = None

    async def prepare(self, store: ViewStore) -> None:
        await AlertStore(store).open()

    def attach(self, registry: Registry) -> tuple[list[RejectionHook], BatchAlerts]:
        """The DLQ hook and the batch hook, reading organisations from the live ``registry``."""
        self._directory = Directory(registry, self.config)
        stage = AlertStage(self._directory, self.config, self.clock, on_new=self.wake.set)
        self._batch = BatchAlerts(stage)
        return [self._batch.rejected], self._batch

    async def run(self, store: ViewStore, owned: Callable[[], Iterable[tuple[str, int]]],
                  stop: asyncio.Event, ends: Ends | None = None) -> None:
        """The deadline timer (on the partitions ``owned`` names, those at their ``ends`` when
        given) and the workers, until stop."""
        assert self._directory is not None, "attach before run"
        for function in self._directory.unserved():
            log.warning("alert_recipient_missing", function=function.value,
                        detail=f"no organisation in the registry has the {function.value} "
                        "function: its alerts reach their other recipients only (give one with "
                        "`emining participants functions`)")
        timer = DeadlineTimer(store, self._directory, self.config, self.clock, owned,
                              on_new=self.wake.set, ends=ends)
        jobs: list[Awaitable[None]] = [timer.run(stop, self._interval)]
        if self._workers is not None:
            jobs.append(self._workers(AlertStore(store), self.wake, stop))
        await asyncio.gather(*jobs)
