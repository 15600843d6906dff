"""Makes a Kafka cluster's topics match the catalogue, idempotently, and reports what changed."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import structlog

from schemas.errors import EminingError
from transport.clients import admin_client
from transport.errors import BrokerUnreachableError
from transport.kafka import (
    ConfigResource,
    ConfigResourceType,
    KafkaConnectionError,
    KafkaError,
    NewPartitions,
    NewTopic,
    for_code,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from schemas.topics import TopicSpec
    from transport.access import KafkaAccess

log = structlog.get_logger()

_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC = 3
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself

Action = Literal["created", "updated", "unchanged"]


class TopicApplyError(EminingError):
    """The broker refused to create or change a topic; the message carries its reason."""


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """A topic as the cluster has it: partition count, replication, explicit config overrides."""

    name: str
    partitions: int
    replication: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicChange:
    """What ``apply_topics`` did to one catalogue topic."""

    topic: str
    action: Action
    partitions: int
    partitions_before: int | None = None
    config_changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "action": self.action,
            "partitions": self.partitions,
            "partitions_before": self.partitions_before,
            "config_changes": {k: list(v) for k, v in self.config_changes.items()},
            "warnings": list(self.warnings),
        }


def _error_name(code: int) -> str:
    """``TopicAuthorizationFailedError (29)`` rather than a bare number."""
    return f"{for_code(code).__name__} ({code})"


def _explicit_overrides(resource: dict[str, Any]) -> dict[str, str]:
    """The config entries set on the topic itself (not broker or built-in defaults)."""
    overrides: dict[str, str] = {}
    for entry in resource["config_entries"]:
        if "config_source" in entry:
            explicit = entry["config_source"] == _DYNAMIC_TOPIC_CONFIG
        else:  # DescribeConfigs v0 (very old brokers)
            explicit = not entry.get("is_default", True)
        if explicit and entry["config_value"] is not None:
            overrides[entry["config_names"]] = entry["config_value"]
    return overrides


async def _describe(client: Any, names: Sequence[str] | None) -> dict[str, TopicInfo]:
    metadata = await client.describe_topics(list(names) if names is not None else None)
    found: dict[str, tuple[int, int]] = {}
    for topic in metadata:
        if topic["error_code"] == _UNKNOWN_TOPIC:
            continue
        if topic["error_code"]:
            raise TopicApplyError(
                f"cannot describe topic {topic['topic']}: {_error_name(topic['error_code'])}"
            )
        if topic["is_internal"] or topic["topic"].startswith("__"):
            continue
        replication = max((len(p["replicas"]) for p in topic["partitions"]), default=0)
        found[topic["topic"]] = (len(topic["partitions"]), replication)
    if not found:
        return {}
    responses = await client.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in sorted(found)]
    )
    configs: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"]:
                raise TopicApplyError(
                    f"cannot read the config of topic {resource['resource_name']}:"
                    f" {resource['error_message'] or _error_name(resource['error_code'])}"
                )
            configs[resource["resource_name"]] = _explicit_overrides(resource)
    return {
        name: TopicInfo(name, partitions, replication, configs.get(name, {}))
        for name, (partitions, replication) in sorted(found.items())
    }


async def describe_topics(
    kafka: KafkaAccess, names: Sequence[str] | None = None, *, timeout_s: float = 15.0
) -> dict[str, TopicInfo]:
    """Topics that exist (all non-internal ones if ``names`` is None), by name."""
    async with admin_client(kafka, timeout_s) as client:
        try:
            async with asyncio.timeout(timeout_s):
                return await _describe(client, names)
        except (KafkaConnectionError, TimeoutError) as exc:
            raise BrokerUnreachableError(
                f"the Kafka broker at {kafka.bootstrap} did not describe topics within"
                f" {timeout_s:.0f}s"
            ) from exc


def _raise_for_topic_errors(response: Any, what: str) -> list[str]:
    """Raise on any error but "already exists"; return the topics that already existed."""
    existed: list[str] = []
    for error in response.to_object()["topic_errors"]:
        code = error["error_code"]
        if code == _TOPIC_ALREADY_EXISTS:
            existed.append(error["topic"])
        elif code:
            reason = error["error_message"] or _error_name(code)
            raise TopicApplyError(f"cannot {what} topic {error['topic']}: {reason}")
    return existed


def plan_existing(spec: TopicSpec, info: TopicInfo, replication: int) -> TopicChange:
    """What aligning an existing topic with its spec would change (pure: no broker calls)."""
    warnings: list[str] = []
    partitions = info.partitions
    if spec.partitions < info.partitions:
        warnings.append(
            f"catalogue asks for {spec.partitions} partitions, topic has {info.partitions}:"
            " partitions are never decreased"
        )
    elif spec.partitions > info.partitions:
        partitions = spec.partitions
    if info.replication != replication:
        warnings.append(
            f"replication factor is {info.replication}, settings ask for {replication}:"
            " change it with a partition reassignment, not here"
        )
    changes = {
        key: (info.config.get(key), value)
        for key, value in spec.config.items()
        if info.config.get(key) != value
    }
    action: Action = "updated" if changes or partitions != info.partitions else "unchanged"
    return TopicChange(
        topic=spec.name, action=action, partitions=partitions,
        partitions_before=info.partitions, config_changes=changes, warnings=tuple(warnings),
    )


async def _align(
    client: Any, spec: TopicSpec, info: TopicInfo, replication: int, timeout_s: float
) -> TopicChange:
    change = plan_existing(spec, info, replication)
    if change.config_changes:
        # AlterConfigs replaces the topic's whole override set: keep the ones we do not manage.
        merged = {**info.config, **spec.config}
        for response in await client.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, merged)]
        ):
            for resource in response.to_object()["resources"]:
                if resource["error_code"]:
                    raise TopicApplyError(
                        f"cannot change the config of topic {spec.name}:"
                        f" {resource['error_message'] or _error_name(resource['error_code'])}"
                    )
    if change.partitions > info.partitions:
        await client.create_partitions(
            {spec.name: NewPartitions(change.partitions)}, timeout_ms=int(timeout_s * 1000)
        )
    for warning in change.warnings:
        log.warning("topic_not_aligned", topic=spec.name, reason=warning)
    return change


DURABILITY_KEYS = ("min.insync.replicas", "unclean.leader.election.enable")
MAX_REPLICATION = 3


def durability(replication: int) -> dict[str, str]:
    """What every catalogue topic gets on top of its own config, for ``replication`` copies.

    A write counts once 2 of 3 copies hold it (``acks=all`` producers wait for that), and a
    copy that fell behind never becomes leader: acknowledged means kept while one node is lost.
    """
    return {
        "min.insync.replicas": "2" if replication >= MAX_REPLICATION else "1",
        "unclean.leader.election.enable": "false",
    }


def replication_for(live_brokers: int, wanted: int | None = None) -> int:
    """``wanted`` if given, else 3 copies, never more than the cluster has brokers."""
    return max(1, min(wanted or MAX_REPLICATION, live_brokers))


@dataclass(frozen=True, slots=True)
class Durability:
    """The replication and durability settings ``apply_topics`` used (printed by the CLI)."""

    brokers: int
    replication: int
    config: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"brokers": self.brokers, "replication": self.replication, **self.config}


async def _apply(
    client: Any, wanted: list[TopicSpec], replication: int, timeout_s: float
) -> list[TopicChange]:
    existing = await _describe(client, [spec.name for spec in wanted])
    missing = [spec for spec in wanted if spec.name not in existing]
    created: set[str] = set()
    if missing:
        response = await client.create_topics(
            [
                NewTopic(spec.name, spec.partitions, replication, topic_configs=dict(spec.config))
                for spec in missing
            ],
            timeout_ms=int(timeout_s * 1000),
        )
        raced = set(_raise_for_topic_errors(response, "create"))
        created = {spec.name for spec in missing} - raced
        if raced:  # created by someone else between describe and create: align those
            existing |= await _describe(client, sorted(raced))
    changes: list[TopicChange] = []
    for spec in wanted:
        if spec.name in created:
            changes.append(
                TopicChange(
                    spec.name, "created", spec.partitions, None,
                    {key: (None, value) for key, value in spec.config.items()},
                )
            )
        else:
            changes.append(await _align(client, spec, existing[spec.name], replication, timeout_s))
    return changes


async def apply_topics(
    kafka: KafkaAccess,
    specs: Iterable[TopicSpec],
    *,
    replication: int | None = None,
    timeout_s: float = 15.0,
    applied: list[Durability] | None = None,
) -> list[TopicChange]:
    """Create missing topics, align configs, add partitions; never delete or shrink anything.

    ``replication`` None: 3 copies, or as many as the cluster has live brokers if fewer. Every
    topic gets ``durability(replication)`` on top of its catalogue config; ``applied`` (if
    given) receives what was used. Config overrides the catalogue does not mention are kept.
    """
    async with admin_client(kafka, timeout_s) as client:
        try:
            async with asyncio.timeout(timeout_s * 4):
                cluster = await client.describe_cluster()
                brokers = len(cluster["brokers"])
                factor = replication_for(brokers, replication)
                extra = durability(factor)
                wanted = [dataclasses.replace(spec, config={**spec.config, **extra})
                          for spec in specs]
                if applied is not None:
                    applied.append(Durability(brokers, factor, extra))
                changes = await _apply(client, wanted, factor, timeout_s)
        except (KafkaConnectionError, TimeoutError) as exc:
            raise BrokerUnreachableError(
                f"the Kafka broker at {kafka.bootstrap} stopped answering while topics were applied"
                f" ({type(exc).__name__})"
            ) from exc
        except KafkaError as exc:
            raise TopicApplyError(f"Kafka refused a topic change: {exc}") from exc
    events = {"created": "topic_created", "updated": "topic_updated"}
    for change in changes:
        if change.action in events:
            log.info(
                events[change.action], topic=change.topic, partitions=change.partitions,
                partitions_before=change.partitions_before,
                config_changes=sorted(change.config_changes),
            )
    return changes
