"""What the alert workers count in their own process, served by the view consumer's endpoint.

With ``EMINING_ALERTS_DELIVERY_PROCESS`` the alerts are published (and dead-lettered) in a child
process (``consumers.alerts.worker_process``), which counts them in its own copies of the
module-level metrics (``producers.metrics.PUBLISHING``, ``consumers.metrics.VIEWS``). The child
sends the consumer a ``snapshot`` of their counters and histograms every ``SEND_S`` while they
change, and once more as it ends (``Sender``; a child killed outright loses what it counted
since its last send); the consumer keeps them in ``TOTALS`` (``Receiver``), and its registry serves
each collector through ``Relayed``: its own values plus the children's, a label set only a child
saw included. A child that ended leaves its last snapshot behind (a restarted child counts from
0 again), so a counter served never goes back. Gauges are the consumer's own and are not relayed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection

import structlog
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from consumers.metrics import VIEWS
from producers.metrics import PUBLISHING

log = structlog.get_logger("consumers.alerts.relayed_metrics")

Key = tuple[str, tuple[tuple[str, str], ...]]
"""A sample's name and its labels, sorted."""
Snapshot = dict[Key, float]

SEND_S = 1.0
"""How often a child sends its counts while they change."""
RELAYED: tuple[Collector, ...] = (*VIEWS, *PUBLISHING)
"""What a child counts that the consumer serves."""
_ADDED = ("counter", "histogram")
"""The metric types whose samples add up across processes (a gauge's do not)."""
_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def _key(sample: Sample) -> Key:
    return sample.name, tuple(sorted(sample.labels.items()))


def snapshot(collectors: Iterable[Collector] = RELAYED) -> Snapshot:
    """The values of every counter and histogram sample of ``collectors`` (not their
    ``_created`` times: the consumer's own are served)."""
    return {_key(s): s.value for collector in collectors for family in collector.collect()
            if family.type in _ADDED for s in family.samples if not s.name.endswith("_created")}


class Totals:
    """The children's counts: the ended children's summed, plus the running child's last.

    Written by one ``Receiver`` at a time (its thread while the child runs, then ``ended``),
    read by the metrics server's thread: ``served`` is replaced whole on each change, never
    changed in place, so a reader sees one consistent sum.
    """

    def __init__(self) -> None:
        self.ended: Snapshot = {}
        self.live: Snapshot = {}
        self.served: Snapshot = {}
        """Every key counted, in the order first counted (a histogram's buckets in order)."""

    def received(self, counts: Snapshot) -> None:
        self.live = counts
        self.served = _sum(self.ended, self.live)

    def child_ended(self) -> None:
        self.ended, self.live = _sum(self.ended, self.live), {}
        self.served = self.ended


def _sum(a: Snapshot, b: Snapshot) -> Snapshot:
    total = dict(a)
    for key, value in b.items():
        total[key] = total.get(key, 0.0) + value
    return total


TOTALS = Totals()
"""The consumer process's: ``worker_process`` fills it, ``Relayed`` serves it."""


class Relayed(Collector):
    """``collector``'s metrics as it collects them, plus what the children counted in them."""

    def __init__(self, collector: Collector, totals: Totals = TOTALS) -> None:
        self.collector = collector
        self.totals = totals

    def describe(self) -> Iterable[Metric]:
        describe = getattr(self.collector, "describe", None)
        return describe() if describe is not None else self.collector.collect()

    def collect(self) -> Iterator[Metric]:
        served = self.totals.served
        for family in self.collector.collect():
            if family.type in _ADDED and served:
                family.samples = _added(family, served)
            yield family


def _added(family: Metric, served: Snapshot) -> list[Sample]:
    """``family``'s samples plus ``served``: its own label sets first, then the others."""
    own: list[Sample] = []
    for sample in family.samples:
        added = 0.0 if sample.name.endswith("_created") else served.get(_key(sample), 0.0)
        own.append(sample._replace(value=sample.value + added))
    seen = {_key(sample) for sample in family.samples}
    names = {family.name + suffix for suffix in _SUFFIXES}
    theirs = [Sample(name, dict(labels), value) for (name, labels), value in served.items()
              if name in names and (name, labels) not in seen]
    return own + theirs


class Sender:
    """The child's side: sends the latest counts from a thread of its own, so a consumer slow to
    read (the pipe full) stalls that thread, never the delivery's event loop; counts not sent
    yet are replaced by newer ones (each is a whole snapshot, the newest says everything)."""

    def __init__(self, pipe: Connection) -> None:
        self._pipe = pipe
        self._latest: Snapshot | None = None
        self._last: Snapshot | None = None
        self._closing = False
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="alert-counts", daemon=True)
        self._thread.start()

    def offer(self) -> None:
        """This process's counts, to be sent unless they are what was offered last."""
        counts = snapshot()
        with self._ready:
            if counts != self._last:
                self._latest = self._last = counts
                self._ready.notify()

    def close(self, timeout_s: float) -> None:
        """Offer the counts one last time and wait ``timeout_s`` at most for them to be sent."""
        self.offer()
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._ready:
                while self._latest is None and not self._closing:
                    self._ready.wait()
                counts, self._latest = self._latest, None
            if counts is None:
                return
            try:
                self._pipe.send(counts)
            except OSError:  # the consumer is gone: nobody to count for
                return


class Receiver:
    """The consumer's side: a thread keeps the child's latest counts in ``totals`` until the
    pipe ends (the child exited or was killed; a message cut short is dropped)."""

    def __init__(self, pipe: Connection, totals: Totals) -> None:
        self._pipe = pipe
        self._totals = totals
        self._lock = threading.Lock()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="alert-counts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                counts = self._pipe.recv()
                with self._lock:
                    if self._done:  # kept already: a late message must not count twice
                        return
                    self._totals.received(counts)
        except (EOFError, OSError):
            return

    def ended(self, timeout_s: float) -> None:
        """Once the child has exited: read to the pipe's end, then keep what it counted."""
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("alert_counts_not_read", timeout_s=timeout_s)
        with self._lock:
            self._done = True
            self._totals.child_ended()
        self._pipe.close()


def relayed(*groups: Iterable[Collector]) -> tuple[Relayed, ...]:
    """Each collector of ``groups`` served with the children's counts."""
    return tuple(Relayed(collector) for group in groups for collector in group)
