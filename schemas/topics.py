"""The topic catalogue: every topic the bus uses, with its settings, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROJECTS = "emining.projects.v1"
APPROVALS = "emining.approvals.v1"
SHIPMENTS = "emining.shipments.v1"
PARTICIPANTS = "emining.participants.v1"
DLQ = "emining.dlq.v1"
CHECKPOINTS = "emining.checkpoints.v1"
COSIGNATURES = "emining.cosignatures.v1"
REFUSALS = "emining.refusals.v1"
ALERTS_PREFIX = "emining.alerts."

SHARED_TOPICS = (PROJECTS, APPROVALS, SHIPMENTS)
"""The shared record: what agencies and firms publish, kept forever as the audit trail."""
CHECKPOINTED_TOPICS = (*SHARED_TOPICS, PARTICIPANTS)
"""The logs the platform checkpoints (one Merkle tree per partition, ``schemas.tlog``)."""
TLOG_TOPICS = (CHECKPOINTS, COSIGNATURES, REFUSALS)
"""Checkpoints (the platform's), cosignatures and refusals (the witnesses'): kept forever."""

_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}
_STAMPED = {**_FOREVER, "message.timestamp.type": "LogAppendTime"}
"""The shared record: kept forever, each record stamped with the broker's clock on append (what
an event's signed ``time`` is checked against, see ``schemas.timing``)."""
_ORG_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def catalogue(partitions: int = 6) -> tuple[TopicSpec, ...]:
    """Topics every deployment has. ``partitions`` applies to the keyed, shared topics."""
    return (
        TopicSpec(PROJECTS, partitions, dict(_STAMPED), "project events, keyed by project id"),
        TopicSpec(
            APPROVALS,
            partitions,
            dict(_STAMPED),
            "licence and approval events, keyed by title or application number",
        ),
        TopicSpec(SHIPMENTS, partitions, dict(_STAMPED), "shipment events, keyed by shipment id"),
        # One partition: the registry is small and its order is global (a key rotation must be
        # seen before the events signed with the new key, whatever organisation they concern).
        TopicSpec(PARTICIPANTS, 1, dict(_FOREVER), "registry of organisations, keys, authorities"),
        # One partition each: a few records per log every few seconds, read whole by witnesses
        # and auditors, in one global order. Stamped by the broker: a witness's key is judged at
        # the record's append time, which its writer cannot backdate.
        TopicSpec(CHECKPOINTS, 1, dict(_STAMPED),
                  "signed checkpoints (Merkle tree heads) of each partition, keyed by origin"),
        TopicSpec(COSIGNATURES, 1, dict(_STAMPED),
                  "witnesses' cosignatures of checkpoints, keyed by origin"),
        TopicSpec(REFUSALS, 1, dict(_STAMPED),
                  "witnesses' signed refusals of inconsistent checkpoints, keyed by origin"),
        TopicSpec(
            DLQ,
            3,
            {"retention.ms": str(90 * 24 * 3600 * 1000)},
            "records a consumer could not accept, unchanged, reason in headers",
        ),
    )


def alerts_topic(org_id: str) -> str:
    """``emining.alerts.<org>`` with the organisation URN reduced to a topic-safe slug."""
    tail = org_id.removeprefix("urn:emining:").lower()
    return ALERTS_PREFIX + _ORG_SLUG.sub("-", tail).strip("-")
