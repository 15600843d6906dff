"""Prometheus metrics of the consuming side: applied events, rejections, batches, lag.

Registered in no registry here: the process that runs the view consumer (``emining views run``)
puts ``VIEWS`` in its own (``infra.metrics.process_registry``), so no other process (the HTTP
service, a CLI) exports them, at 0, as if it measured them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

VIEW_EVENTS = Counter(
    "emining_view_events_applied_total", "Events applied to the views, by family", ["family"],
    registry=None,
)
REJECTED_RECORDS = Counter(
    "emining_records_rejected_total",
    "Records a consumer refused and sent to the DLQ, by consumer and reason",
    ["consumer", "reason"], registry=None,
)
DLQ_RECORDS = Counter(
    "emining_dlq_records_total", "Records written to the DLQ, by consumer", ["consumer"],
    registry=None,
)
VIEW_BATCHES = Counter(
    "emining_view_batches_total", "View batches, by outcome (applied, retried)", ["outcome"],
    registry=None,
)
VIEW_BATCH_SECONDS = Histogram(
    "emining_view_batch_seconds", "Time to verify, fold and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15), registry=None,
)
VIEW_LAG = Gauge(
    "emining_view_lag_records",
    "Records not yet applied to the views, for every partition the consumer is assigned "
    "(set on assignment from the log's end and the stored offset, then after each batch)",
    ["topic", "partition"], registry=None,
)

VIEW_BROKER_UP = Gauge(
    "emining_views_broker_connected",
    "1 while the view consumer is connected to the broker, 0 while it reconnects",
    registry=None,
)
VIEW_RECONNECTS = Counter(
    "emining_views_reconnects_total", "Times the view consumer lost the broker and started again",
    registry=None,
)
VIEW_KAFKA_COMMIT_FAILURES = Counter(
    "emining_views_kafka_commit_failures_total",
    "Commits of the views' stored offsets to the Kafka group that failed (the next one retries)",
    registry=None,
)

VIEWS: tuple[Collector, ...] = (
    VIEW_EVENTS, REJECTED_RECORDS, DLQ_RECORDS, VIEW_BATCHES, VIEW_BATCH_SECONDS, VIEW_LAG,
    VIEW_BROKER_UP, VIEW_RECONNECTS, VIEW_KAFKA_COMMIT_FAILURES,
)
"""What the view consumer measures."""
