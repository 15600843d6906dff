"""Composition: build the SDK's pieces (keys, trust anchor, registry, publishers) from settings.

``PLATFORM_ORG`` is ``schemas.alerts.PLATFORM_ORG`` (defined once there), named here too because
the operator it names signs the registry this module reads."""

from __future__ import annotations

from pathlib import Path

from infra.kafka_settings import kafka_access
from infra.settings import Settings, time_bounds
from producers.keys import load_key, write_key
from producers.publisher import Publisher
from producers.registry_reader import read_registry
from schemas.alerts import PLATFORM_ORG
from schemas.errors import EminingError, SignatureError
from schemas.registry import Registry
from schemas.signing import PrivateKey, unb64

__all__ = ["PLATFORM_ORG", "key_from_file", "load_registry", "load_registry_or_why",
           "operator_key", "publisher", "trust_anchor"]


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


async def load_registry_or_why(settings: Settings) -> tuple[Registry | None, str | None]:
    """The registry from the log, or ``None`` and why it cannot be read (no trust anchor...):
    for ``topics/acls apply``, which do what they can without it."""
    try:
        return await load_registry(settings), None
    except EminingError as exc:
        return None, str(exc).partition("\n")[0]


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
