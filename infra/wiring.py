"""Composition: build the SDK's pieces (keys, trust anchor, registry, publishers) from settings."""

from __future__ import annotations

from pathlib import Path

from infra.kafka_settings import kafka_access
from infra.settings import Settings, time_bounds
from producers.keys import load_key, write_key
from producers.publisher import Publisher
from producers.registry_reader import read_registry
from schemas.errors import SignatureError
from schemas.registry import Registry
from schemas.signing import PrivateKey, unb64

PLATFORM_ORG = "urn:emining:xx:platform:operator"
"""The platform operator: signs the registry (trust anchor) and the platform's own alerts."""


def operator_key(settings: Settings, *, create: bool = False) -> PrivateKey:
    """The operator's key; with ``create``, made on first use (a local or demo deployment)."""
    path = settings.operator_key_path
    if not path.exists():
        if not create:
            raise SignatureError(
                f"no operator key at {path}: set EMINING_OPERATOR_KEY_FILE or run "
                "`emining participants init`"
            )
        write_key(PrivateKey.generate(PLATFORM_ORG), path)
    return load_key(path)


def trust_anchor(settings: Settings) -> list[bytes]:
    """Public keys whose signatures make the registry: configured, or the operator key's."""
    if settings.trust_anchor:
        return [
            unb64(part.strip(), what="EMINING_TRUST_ANCHOR")
            for part in settings.trust_anchor.split(",")
            if part.strip()
        ]
    return [operator_key(settings).public_key]


async def load_registry(settings: Settings) -> Registry:
    return await read_registry(
        kafka_access(settings), trust_anchor(settings), timeout_s=settings.client_timeout_s
    )


def publisher(
    settings: Settings, key: PrivateKey, instance: str, registry: Registry | None
) -> Publisher:
    """A publisher for source ``<org>/<instance>``, chain state under the state dir."""
    return Publisher(
        kafka=kafka_access(settings),
        key=key,
        source=f"{key.org}/{instance}",
        state_dir=settings.chain_dir,
        registry=registry,
        timeout_s=settings.client_timeout_s,
        time_bounds=time_bounds(settings),
    )


def key_from_file(path: Path) -> PrivateKey:
    return load_key(path)
