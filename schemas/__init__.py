"""The contract: the envelope, signatures and chains, the event types, the participants registry,
authority, the topic catalogue, versions. Pure: no I/O.

Its main names, each imported on first use (importing ``schemas`` loads nothing more, so the
``emining`` command starts light); the event classes are in ``schemas.events``, the identifier
types in ``schemas.identifiers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.lazy import lazy_names

if TYPE_CHECKING:
    from schemas.alerts import PLATFORM_ORG
    from schemas.base import EventData
    from schemas.catalogue import model_for
    from schemas.envelope import KafkaRecord
    from schemas.errors import (
        AuthorityError,
        ChainError,
        ContractError,
        EminingError,
        RecordError,
        SignatureError,
    )
    from schemas.identifiers import OrgId, SourceId
    from schemas.registry import Registry
    from schemas.signing import PrivateKey
    from schemas.timing import TimeBounds
    from schemas.topics import TopicSpec

_MODULES = {
    "schemas.alerts": ("PLATFORM_ORG",),
    "schemas.base": ("EventData",),
    "schemas.catalogue": ("model_for",),
    "schemas.envelope": ("KafkaRecord",),
    "schemas.errors": ("AuthorityError", "ChainError", "ContractError", "EminingError",
                       "RecordError", "SignatureError"),
    "schemas.identifiers": ("OrgId", "SourceId"),
    "schemas.registry": ("Registry",),
    "schemas.signing": ("PrivateKey",),
    "schemas.timing": ("TimeBounds",),
    "schemas.topics": ("TopicSpec",),
}
"""Where each public name is defined (the ``TYPE_CHECKING`` imports above, for run time)."""

__all__ = ["PLATFORM_ORG", "AuthorityError", "ChainError", "ContractError", "EminingError",
           "EventData", "KafkaRecord", "OrgId", "PrivateKey", "RecordError", "Registry",
           "SignatureError", "SourceId", "TimeBounds", "TopicSpec", "model_for"]

_getattr, _dir = lazy_names(__name__, _MODULES)


def __getattr__(name: str) -> Any:
    return _getattr(name)


def __dir__() -> list[str]:
    return _dir()
