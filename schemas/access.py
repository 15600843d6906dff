"""Who is asking: the principal every read and write is authorised for, however it signed in.

Authentication (API keys, local accounts with sessions, OIDC bearer tokens) produces a
``Principal``; the authorisation policy decides from it alone, plus the registry's record of the
principal's organisation (side and role), and the classification of event fields
(``restricted_fields``: which are personal or commercial, as each type's registry entry
declares). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from schemas.enums import FieldClass as FieldClass  # noqa: PLC0414 - re-exported


class UserRole(StrEnum):
    """What a person (or a machine client) does for its organisation."""

    OFFICER = "officer"
    """Reads its organisation's data and acts for it (files, decides, declares)."""
    MANAGER = "manager"
    """An officer who also manages the organisation's webhooks, subscriptions and API clients."""
    AUDITOR = "auditor"
    """Reads what its organisation may read, never acts."""
    OPERATOR = "operator"
    """Runs the platform: accounts, the read log, health. Only in the platform organisation."""
    MACHINE = "machine"
    """A client holding the organisation's API key or an OIDC client token: an officer's reads."""


class AuthMethod(StrEnum):
    ANONYMOUS = "anonymous"
    API_KEY = "api_key"
    SESSION = "session"
    OIDC = "oidc"
    LOCAL = "local"
    """The operator's shell on the server: ``emining views …`` reads the store directly."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or the anonymous one): organisation, roles and a name for logs."""

    org: str | None
    """The organisation's URN; ``None`` only for the anonymous caller."""
    roles: frozenset[UserRole]
    subject: str
    """Who exactly: a username, an OIDC ``sub``, ``api-key:<fingerprint>`` or ``anonymous``."""
    method: AuthMethod

    @property
    def anonymous(self) -> bool:
        return self.org is None

    def has(self, *roles: UserRole) -> bool:
        return bool(self.roles.intersection(roles))


ANONYMOUS = Principal(org=None, roles=frozenset(), subject="anonymous",
                      method=AuthMethod.ANONYMOUS)


if TYPE_CHECKING:
    RESTRICTED_FIELDS: dict[str, dict[str, FieldClass]]
    """Per event type (without its ``.vN``), the dotted paths of its data that are not shared.

    Derived from the registry: each type's entry declares them (``EventSpec.restricted``, beside
    the class in its family module under ``schemas/events/``) and
    ``schemas.events.registry.RESTRICTED_FIELDS`` gathers them. Loaded on first use (a module
    ``__getattr__``), so that importing this module does not import the event models.

    Everything else an event carries is shared by all participants. The parties who see a
    restricted field: the subject's own party (holder, proponent, exporter), the organisations
    competent for the subject (agencies holding a grant over its family in its province),
    auditors and the platform. This table is the one source the access policy
    (``consumers.policy``) redacts event data by; on Kafka the shared topics are read only by
    those who may see every field. A correction's ``replacement`` follows the corrected type's
    entry (``restricted_fields(correction.corrected_type)``).
    """


def __getattr__(name: str) -> Any:
    if name == "RESTRICTED_FIELDS":
        return _table()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _table() -> dict[str, dict[str, FieldClass]]:
    # Deferred: the CLI imports this module for ``UserRole`` and must start without the models.
    from schemas.events.registry import RESTRICTED_FIELDS  # noqa: PLC0415

    return RESTRICTED_FIELDS


def restricted_fields(ce_type: str) -> dict[str, FieldClass]:
    """The restricted paths of a ``ce_type`` with or without its version suffix (``{}``: none,
    or not a type of the shared topics)."""
    base, _, version = ce_type.rpartition(".")
    if base and version.startswith("v") and version[1:].isdigit():
        ce_type = base
    return _table().get(ce_type, {})
