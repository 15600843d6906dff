"""What the alert workers count in their own process, served by the view consumer's endpoint.

With ``EMINING_ALERTS_DELIVERY_PROCESS`` the alerts are published (and dead-lettered) in a child
process (``consumers.alerts.worker_process``), which counts them in its own copies of the
module-level metrics (``producers.metrics.PUBLISHING``, ``consumers.metrics.VIEWS``). The child
sends the consumer a ``snapshot`` of their counters and histograms every ``SEND_S`` while they
change, and once more as it ends; the consumer keeps them in ``TOTALS``, and its registry serves
each collector through ``Relayed``: its own values plus the children's, a label set only a child
saw included. A child that ended leaves its last snapshot behind (a restarted child counts from
0 again), so a counter served never goes back. Gauges are the consumer's own and are not relayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from consumers.metrics import VIEWS
from producers.metrics import PUBLISHING

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

    Written on the consumer's event loop, read by the metrics server's thread: ``served`` is
    replaced whole on each change, never changed in place, so a reader sees one consistent sum.
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


def relayed(*groups: Iterable[Collector]) -> tuple[Relayed, ...]:
    """Each collector of ``groups`` served with the children's counts."""
    return tuple(Relayed(collector) for group in groups for collector in group)
