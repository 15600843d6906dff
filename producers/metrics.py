"""Prometheus metrics of the publishing side, shared by the SDK, CLI and gateway."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PUBLISHED = Counter(
    "emining_events_published_total", "Events handed to the broker, by outcome", ["outcome"]
)
PUBLISH_LATENCY = Histogram(
    "emining_publish_seconds", "Time from send to the broker's acknowledgement of a batch"
)
REJECTED = Counter(
    "emining_events_rejected_total", "Events refused before the broker, by reason", ["reason"]
)

GATEWAY_REQUESTS = Counter(
    "emining_gateway_requests_total",
    "Event submissions answered by the HTTP gateway, by outcome (accepted, invalid, ...)",
    ["outcome"],
)
GATEWAY_LATENCY = Histogram(
    "emining_gateway_request_seconds",
    "Time the HTTP gateway took to answer an event submission, by outcome",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
GATEWAY_REGISTRY_REFRESHES = Counter(
    "emining_gateway_registry_refreshes_total",
    "Times the gateway re-read the participants registry from the log, by result",
    ["result"],
)
