"""The console's audit pages over the log itself, inside ``emining serve``.

``emining audit verify`` and ``emining audit replay --as-of`` run here as they run in the CLI,
as the principal ``kafka_settings.audit_access`` gives (the platform's audit service): the
gateway's own principal may not read the shared topics. Each reads the whole log, so one runs at
a time, on a loop of its own in a worker thread (``workers=0``: no process pool inside a web
server), so the server keeps answering meanwhile; an answer is reused for ``fresh_s`` seconds by
whoever asks next, and a question asked while another read runs is answered busy (429): nobody
can queue up whole-log reads. A replay goes into a scratch SQLite file deleted afterwards.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from consumers.audit import verify_log
from consumers.audit.replay import ReplayResult, replay
from consumers.audit.state import summary
from consumers.console.pages_audit import AuditBusyError
from consumers.store import ViewStore
from schemas.events.shipments_border import PAKISTAN_TIME

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterable

    from consumers.audit.findings import VerifyReport
    from consumers.audit.records import AuditTopics
    from schemas.timing import TimeBounds
    from transport.access import KafkaAccess

log = structlog.get_logger(__name__)
T = TypeVar("T")
State = dict[str, dict[str, int]]

REPLAYS_KEPT = 16
"""Days whose replayed state is kept (the state of a past day changes only with late records)."""


async def _off_loop(work: Coroutine[Any, Any, T]) -> T:
    """``work`` on an event loop of its own in a worker thread: reading and checking the whole
    log is seconds of CPU, and the server's loop keeps answering (and publishing) meanwhile."""
    return await asyncio.to_thread(asyncio.run, work)


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in Pakistan: what ``replay --as-of`` cuts at for a day."""
    return datetime.combine(day + timedelta(days=1), clock(0), PAKISTAN_TIME) - timedelta(
        milliseconds=1)


@dataclass(slots=True)
class LogAudit:
    """``verify`` and ``state_as_of`` for ``consumers.console.pages_audit``."""

    kafka: KafkaAccess
    anchors: list[bytes]
    timeout_s: float
    bounds: TimeBounds
    fresh_s: float = 30.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _report: tuple[float, VerifyReport] | None = None
    topics: AuditTopics | None = None
    _states: dict[tuple[date, bool], tuple[float, dict[str, dict[str, int]]]] = field(
        default_factory=dict)

    @classmethod
    def of(cls, kafka: KafkaAccess, anchors: Iterable[bytes], *, timeout_s: float,
           bounds: TimeBounds, topics: AuditTopics | None = None) -> LogAudit:
        return cls(kafka, list(anchors), timeout_s, bounds, topics=topics)

    async def _replay(self, day: date, late: bool) -> tuple[ReplayResult, State]:
        with tempfile.TemporaryDirectory(prefix="emining-console-replay-") as folder:
            url = f"sqlite:///{Path(folder) / 'replay.sqlite'}"
            result = await replay(self.kafka, self.anchors, url, topics=self.topics,
                                  as_of=end_of_day(day), include_late=late,
                                  timeout_s=self.timeout_s, time_bounds=self.bounds,
                                  workers=0)
            views = ViewStore(url)
            try:
                await views.open()
                return result, await summary(views, day)
            finally:
                await views.close()

    def _fresh(self, at: float) -> bool:
        return time.monotonic() - at < self.fresh_s

    async def verify(self) -> VerifyReport:
        if self._report is not None and self._fresh(self._report[0]):
            return self._report[1]
        if self._lock.locked():  # one whole-log read at a time: the next asker comes back later
            raise AuditBusyError
        async with self._lock:
            report = await _off_loop(verify_log(
                self.kafka, self.anchors, workers=0, topics=self.topics,
                timeout_s=self.timeout_s, time_bounds=self.bounds))
            log.info("console verified the log", records=report.records,
                     violations=len(report.violations), warnings=len(report.warnings),
                     seconds=round(report.seconds, 2))
            self._report = (time.monotonic(), report)
            return report

    async def state_as_of(self, day: date, late: bool) -> dict[str, dict[str, int]]:
        """Subjects by status at the end of ``day`` in Pakistan; ``late``: also records appended
        later but dated by then (``emining audit replay --as-of DAY [--include-late]``)."""
        kept = self._states.get((day, late))
        if kept is not None and self._fresh(kept[0]):
            return kept[1]
        if self._lock.locked():
            raise AuditBusyError
        async with self._lock:
            result, state = await _off_loop(self._replay(day, late))
            log.info("console replayed the log", as_of=day.isoformat(), late=late,
                     records=result.records,
                     applied=result.applied, seconds=round(result.seconds, 2))
            if len(self._states) >= REPLAYS_KEPT:
                self._states.pop(next(iter(self._states)))
            self._states[(day, late)] = (time.monotonic(), state)
            return state
