"""Bring a deployment to life: broker, topics, operator key, demo keys and the seeded registry."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from infra import compose, local_kafka
from infra.kafka_admin.topics import apply_topics
from infra.kafka_settings import kafka_access
from infra.settings import Settings
from producers.keys import key_file_name, load_key, write_key
from producers.publisher import Draft
from schemas.participants import RegistrySeed
from schemas.registry import Registry, backfill_events, seed_events
from schemas.signing import PrivateKey
from schemas.topics import catalogue
from transport.access import KafkaAccess

HISTORY_FROM = datetime(2025, 1, 1, tzinfo=UTC)
"""The demo's organisations hold keys and authorities from here: its year of history verifies."""
BACKFILL_OPEN = timedelta(hours=6)
"""How long each run's backfill window stays open for loading that history."""

SEED_FILE = Path(__file__).with_name("registry.yaml")


@dataclass(frozen=True, slots=True)
class Deployment:
    kafka: KafkaAccess
    seed: RegistrySeed
    keys: dict[str, PrivateKey]
    registry: Registry
    onboarded: int


def demo_keys(settings: Settings, seed: RegistrySeed) -> dict[str, PrivateKey]:
    """One key per organisation of the seed, made once and kept under the state dir."""
    directory = settings.state_dir / "demo" / "keys"
    keys = {}
    for org in seed.organisations:
        path = directory / key_file_name(org.id)
        if not path.exists():
            write_key(PrivateKey.generate(org.id), path)
        keys[org.id] = load_key(path)
    return keys


@contextmanager
def _quiet_fresh_topics() -> Iterator[None]:
    """Right after topics are created, aiokafka logs (as errors) the leader elections it then
    retries through; on a fresh broker that is expected, so it is not shown."""
    fetcher = logging.getLogger("aiokafka.consumer.fetcher")
    level = fetcher.level
    fetcher.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        fetcher.setLevel(level)


def load_seed(path: Path = SEED_FILE) -> RegistrySeed:
    return RegistrySeed.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


async def prepare(settings: Settings, *, seed_file: Path = SEED_FILE) -> Deployment:
    """Idempotent: start what is missing, onboard only organisations not yet on the log."""
    local_kafka.up(settings)
    kafka = kafka_access(settings)
    await apply_topics(kafka, catalogue(settings.topic_partitions),
                       replication=settings.topic_replication, timeout_s=settings.client_timeout_s)
    operator = compose.operator_key(settings, create=True)
    seed = load_seed(seed_file)
    keys = demo_keys(settings, seed)
    with _quiet_fresh_topics():
        registry = await compose.load_registry(settings)
    missing = RegistrySeed(
        platform=seed.platform,
        organisations=tuple(o for o in seed.organisations if o.id not in registry.orgs),
    )
    events = seed_events(missing, {o: k.public_key for o, k in keys.items()}, HISTORY_FROM)
    # The demo loads a year of history: the operator opens a backfill window for this run, or
    # every record dated more than the skew before its append time would be refused.
    now = datetime.now(UTC).replace(microsecond=0)
    events += backfill_events((o.id for o in seed.organisations), f"demo-{now:%Y%m%d%H%M%S}",
                              (HISTORY_FROM, now), (now, now + BACKFILL_OPEN),
                              "the demo loads its year of history")
    async with compose.publisher(settings, operator, "registry", registry=None) as pub:
        await pub.publish_many([Draft(e) for e in events])
    registry = await compose.load_registry(settings)
    return Deployment(kafka, seed, keys, registry, len(missing.organisations))
