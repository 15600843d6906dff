"""Compatibility alias: ``tests/faults`` still imports ``infra.topics``.

The topic catalogue moved to ``infra.kafka_admin.topics``. This alias goes once ``tests/faults``
(being edited elsewhere) imports ``infra.kafka_admin.topics``.
"""

from __future__ import annotations

from infra.kafka_admin.topics import admin_client, apply_topics, describe_topics

__all__ = ["admin_client", "apply_topics", "describe_topics"]
