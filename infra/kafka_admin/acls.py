"""Who may do what on the broker: the whole ACL set, derived from the participants registry.

Pure policy, no I/O (``infra.kafka_admin.admin`` applies it). The broker denies whatever no ACL
allows (``allow.everyone.if.no.acl.found=false``), so this module is the complete list of rights:

- every organisation active at the moment (principal ``User:<org URN>``) except auditors may
  WRITE the shared topics (payload authority is still checked by every consumer) but not READ
  them: the shared record carries fields only a subject's parties may see (personal data,
  commercial terms, ``schemas.access``), and the broker cannot tell rows apart, so
  participants read through the API, where ``consumers.policy`` decides per row and field
  (no reading around the API). They READ the participants registry (clients load it to check
  authority) and their own ``emining.alerts.<org>`` topic only, and use consumer groups named
  ``<org URN>.<anything>`` (org URNs contain no dot, so the prefix never covers another
  organisation's groups). They READ the checkpoints, cosignatures and refusals, and each may
  WRITE cosignatures and refusals as a witness (``emining witness run``): a reader trusts a
  cosignature or refusal only under a key the registry gives the organisation it names;
- auditors READ every ``emining.`` topic and their own groups, and write nothing;
- the platform's services (``SERVICES``) get exactly what their code uses;
- nobody here writes ``emining.participants.v1`` or creates topics outside the alerts prefix:
  that is the operator's super user (``admin``), which needs no ACL. An offboarded organisation
  gets nothing.

``managed`` says which principals' ACLs this policy owns: applying it deletes any other ACL of
those principals and never touches anyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from schemas.common import Role
from schemas.topics import (
    ALERTS_PREFIX,
    CHECKPOINTED_TOPICS,
    CHECKPOINTS,
    COSIGNATURES,
    DLQ,
    PARTICIPANTS,
    REFUSALS,
    SHARED_TOPICS,
    TLOG_TOPICS,
    alerts_topic,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from schemas.registry import Registry

Resource = Literal["topic", "group", "cluster"]
Pattern = Literal["literal", "prefixed"]

OPERATIONS = frozenset({
    "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE",
})
"""Kafka's ACL operations, by the names Kafka and confluent-kafka's ``AclOperation`` use."""

CLUSTER = "kafka-cluster"
"""The only name a cluster resource has."""
TOPIC_PREFIX = "emining."
"""Every topic of the bus starts with it: what an auditor may read."""
ORG_PRINCIPAL_PREFIX = "User:urn:emining:"

SERVICES: Mapping[str, str] = MappingProxyType({
    "views": "emining-views",
    "alerts": "emining-alerts",
    "audit": "emining-audit",
    "gateway": "emining-gateway",
    "checkpoint": "emining-checkpoint",
})
"""The platform's own principals: service name → SCRAM username (``User:<username>``)."""


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One ALLOW rule for any host: ``principal`` may ``operation`` on a resource.

    ``pattern`` ``prefixed`` covers every resource whose name starts with ``name``.
    """

    resource: Resource
    name: str
    pattern: Pattern
    principal: str
    operation: str

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"unknown Kafka ACL operation {self.operation!r}")
        if not self.principal.startswith("User:"):
            raise ValueError(f"a principal is User:<name>, not {self.principal!r}")

    def describe(self) -> str:
        star = "*" if self.pattern == "prefixed" else ""
        return f"{self.principal} {self.operation} {self.resource}:{self.name}{star}"

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "name": self.name, "pattern": self.pattern,
                "principal": self.principal, "operation": self.operation}


def org_principal(org_id: str) -> str:
    return f"User:{org_id}"


def service_principal(service: str) -> str:
    """``User:emining-views`` for ``views``; ``KeyError`` for an unknown service."""
    return f"User:{SERVICES[service]}"


SERVICE_PRINCIPALS = frozenset(service_principal(name) for name in SERVICES)


def org_group_prefix(org_id: str) -> str:
    """Consumer groups an organisation may use: ``<org URN>.<anything>``."""
    return f"{org_id}."


def managed(principal: str) -> bool:
    """True for the principals whose ACLs this policy owns: organisations and services."""
    return principal.startswith(ORG_PRINCIPAL_PREFIX) or principal in SERVICE_PRINCIPALS


def _topics(principal: str, operation: str, names: Iterable[str]) -> set[Acl]:
    return {Acl("topic", name, "literal", principal, operation) for name in names}


def _prefixed(resource: Resource, prefix: str, principal: str, *operations: str) -> set[Acl]:
    return {Acl(resource, prefix, "prefixed", principal, op) for op in operations}


def org_acls(org_id: str, role: Role) -> frozenset[Acl]:
    """An active organisation's rights, by its role."""
    who = org_principal(org_id)
    groups = _prefixed("group", org_group_prefix(org_id), who, "READ")
    if role is Role.AUDITOR:
        return frozenset(_prefixed("topic", TOPIC_PREFIX, who, "READ") | groups)
    return frozenset(
        _topics(who, "WRITE", (*SHARED_TOPICS, COSIGNATURES, REFUSALS))
        | _topics(who, "READ", (PARTICIPANTS, alerts_topic(org_id), *TLOG_TOPICS))
        | groups
    )


def service_acls(service: str) -> frozenset[Acl]:
    """What one platform service needs, read from the code that runs as it.

    - ``views`` (``emining views run``, ``consumers/runner.py``): consumes the shared topics
      and the registry in group ``views_group`` (default ``emining-views``), sends what it
      rejects to the DLQ.
    - ``alerts`` (``emining views run`` hosting the alert rules, ``emining alerts deliver``):
      the views' rights, plus the alert topics: it creates a new organisation's topic on first
      use (CREATE, and DESCRIBE_CONFIGS to check an existing one), writes alerts and reads
      them back to settle doubtful deliveries (``consumers/alerts/delivery.py``); webhook
      failures go to the DLQ.
    - ``audit`` (``emining audit …``): reads every topic of the bus.
    - ``gateway`` (``emining serve``): publishes custodially to the shared topics, follows the
      registry, streams organisations' alerts to API-key holders.
    - ``checkpoint`` (``emining checkpoint run``, ``consumers/checkpoints``): reads every
      checkpointed partition, its own checkpoints and the witnesses' refusals, writes
      checkpoints, and raises the platform's alerts about an inconsistent log (the alerts
      service's rights on the alerts topics).
    """
    who = service_principal(service)
    if service == "views":
        return frozenset(
            _topics(who, "READ", (*SHARED_TOPICS, PARTICIPANTS))
            | _prefixed("group", SERVICES["views"], who, "READ")
            | _topics(who, "WRITE", (DLQ,))
        )
    if service == "alerts":
        views = {Acl(a.resource, a.name, a.pattern, who, a.operation)
                 for a in service_acls("views")}
        return frozenset(
            views
            | _prefixed("topic", ALERTS_PREFIX, who, "READ", "WRITE", "CREATE", "DESCRIBE_CONFIGS")
            | _prefixed("group", SERVICES["alerts"], who, "READ")
        )
    if service == "audit":
        return frozenset(
            _prefixed("topic", TOPIC_PREFIX, who, "READ")
            | _prefixed("group", SERVICES["audit"], who, "READ")
        )
    if service == "gateway":
        return frozenset(
            _topics(who, "WRITE", SHARED_TOPICS)
            | _topics(who, "READ", (PARTICIPANTS,))
            | _prefixed("topic", ALERTS_PREFIX, who, "READ")
            | _prefixed("group", SERVICES["gateway"], who, "READ")
        )
    if service == "checkpoint":
        return frozenset(
            _topics(who, "READ", (*CHECKPOINTED_TOPICS, *TLOG_TOPICS))
            | _topics(who, "WRITE", (CHECKPOINTS,))
            | _prefixed("topic", ALERTS_PREFIX, who, "READ", "WRITE", "CREATE", "DESCRIBE_CONFIGS")
            | _prefixed("group", SERVICES["checkpoint"], who, "READ")
        )
    raise KeyError(f"unknown service {service!r}: one of {', '.join(SERVICES)}")


def desired_acls(registry: Registry, at: datetime) -> frozenset[Acl]:
    """Every ACL the broker should hold at ``at``: services, and organisations active then."""
    acls: set[Acl] = set()
    for service in SERVICES:
        acls |= service_acls(service)
    for org in registry.orgs.values():
        if org.active_at(at):
            acls |= org_acls(org.id, org.role)
    return frozenset(acls)
