"""Prometheus metrics of the publishing side, shared by the SDK, CLI and gateway.

Registered in no registry here: a process that serves metrics puts the groups it measures in
its own (``infra.metrics.process_registry``): ``PUBLISHING`` wherever events are published,
``GATEWAY`` in the HTTP service only.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

PUBLISHED = Counter(
    "emining_events_published_total", "Events handed to the broker, by outcome", ["outcome"],
    registry=None,
)
PUBLISH_LATENCY = Histogram(
    "emining_publish_seconds", "Time from send to the broker's acknowledgement of a batch",
    registry=None,
)
REJECTED = Counter(
    "emining_events_rejected_total", "Events refused before the broker, by reason", ["reason"],
    registry=None,
)

GATEWAY_REQUESTS = Counter(
    "emining_gateway_requests_total",
    "Event submissions answered by the HTTP gateway, by outcome (accepted, invalid, ...)",
    ["outcome"], registry=None,
)
GATEWAY_LATENCY = Histogram(
    "emining_gateway_request_seconds",
    "Time the HTTP gateway took to answer an event submission, by outcome",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
    registry=None,
)
GATEWAY_REGISTRY_REFRESHES = Counter(
    "emining_gateway_registry_refreshes_total",
    "Times the gateway re-read the participants registry from the log, by result",
    ["result"], registry=None,
)

PUBLISHING: tuple[Collector, ...] = (PUBLISHED, PUBLISH_LATENCY, REJECTED)
"""What a publishing process measures (the SDK's ``Publisher``)."""
GATEWAY: tuple[Collector, ...] = (GATEWAY_REQUESTS, GATEWAY_LATENCY, GATEWAY_REGISTRY_REFRESHES)
"""What the event gateway measures."""
