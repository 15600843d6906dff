"""Publishing: the SDK (``Publisher``), bulk import, key files, the registry reader, the HTTP
ingestion gateway.

The SDK's names for users, in one import::

    from producers import Draft, KafkaAccess, Publisher, load_key, model_for, read_registry

Each is imported on first use (nothing connects, nothing heavy loads when ``producers`` is
imported); inside the project, modules import from the defining module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from producers.keys import load_key, write_key
    from producers.publisher import Draft, Publisher, PublishResult
    from producers.registry_reader import read_registry
    from schemas.catalogue import model_for
    from schemas.registry import Registry
    from schemas.signing import PrivateKey
    from transport.access import KafkaAccess
    from transport.errors import BrokerUnavailableError, PublishError

__all__ = ["BrokerUnavailableError", "Draft", "KafkaAccess", "PrivateKey", "PublishError",
           "PublishResult", "Publisher", "Registry", "load_key", "model_for", "read_registry",
           "write_key"]

_MODULES = {
    "producers.publisher": ("Draft", "PublishResult", "Publisher"),
    "producers.keys": ("load_key", "write_key"),
    "producers.registry_reader": ("read_registry",),
    "schemas.catalogue": ("model_for",),
    "schemas.registry": ("Registry",),
    "schemas.signing": ("PrivateKey",),
    "transport.access": ("KafkaAccess",),
    "transport.errors": ("BrokerUnavailableError", "PublishError"),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
