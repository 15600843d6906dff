"""Who is asking: the principal every read and write is authorised for, however it signed in.

Authentication (API keys, local accounts with sessions, OIDC bearer tokens) produces a
``Principal``; the authorisation policy decides from it alone, plus the registry's record of the
principal's organisation (side and role). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
