"""Prometheus metrics of the consuming side: applied events, rejections, batches, lag."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

VIEW_EVENTS = Counter(
    "emining_view_events_applied_total", "Events applied to the views, by family", ["family"]
)
REJECTED_RECORDS = Counter(
    "emining_records_rejected_total",
    "Records a consumer refused and sent to the DLQ, by consumer and reason",
    ["consumer", "reason"],
)
DLQ_RECORDS = Counter(
    "emining_dlq_records_total", "Records written to the DLQ, by consumer", ["consumer"]
)
VIEW_BATCHES = Counter(
    "emining_view_batches_total", "View batches, by outcome (applied, retried)", ["outcome"]
)
VIEW_BATCH_SECONDS = Histogram(
    "emining_view_batch_seconds", "Time to verify, fold and commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
VIEW_LAG = Gauge(
    "emining_view_lag_records", "Records not yet applied to the views", ["topic", "partition"]
)

VIEW_BROKER_UP = Gauge(
    "emining_views_broker_connected",
    "1 while the view consumer is connected to the broker, 0 while it reconnects",
)
VIEW_RECONNECTS = Counter(
    "emining_views_reconnects_total", "Times the view consumer lost the broker and started again",
)
VIEW_KAFKA_COMMIT_FAILURES = Counter(
    "emining_views_kafka_commit_failures_total",
    "Commits of the views' stored offsets to the Kafka group that failed (the next one retries)",
)
