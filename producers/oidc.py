"""OAuth2/OIDC access tokens from an organisation's own identity provider, checked by ``joserfc``.

The operator trusts an issuer for exactly one organisation (``EMINING_OIDC_CONFIG_FILE``, YAML:
a list of ``{issuer, org, audience, roles_claim?, algorithms?, jwks_uri?}``). A token is a JWT
signed by one of the issuer's keys (its JWKS, found through
``<issuer>/.well-known/openid-configuration`` and cached; fetched again once when a token names
an unknown ``kid``, so the provider can rotate keys), with that ``iss``, that ``aud``, a ``exp``
in the future and no ``nbf`` in the future. Its ``sub`` names the person or client; its roles
(the ``roles_claim``, default ``roles``) must be ours (``officer``, ``manager``, ``auditor``),
else it acts as a ``machine`` client. A token from issuer X never acts for another organisation.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, Field, ValidationError

from schemas.access import AuthMethod, Principal, UserRole
from schemas.errors import EminingError

PERSON_ROLES = frozenset({UserRole.OFFICER, UserRole.MANAGER, UserRole.AUDITOR})
JWKS_TTL_S = 3600.0


class OidcError(EminingError):
    """A token that is not valid for this platform; the message says why."""


class TrustedIssuer(BaseModel):
    issuer: str = Field(pattern=r"^https?://")
    org: str = Field(pattern=r"^urn:emining:")
    audience: str
    roles_claim: str = "roles"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256", "EdDSA"])
    jwks_uri: str | None = None
    """Where the keys are; default: the issuer's discovery document says."""


def load_issuers(path: Path | None) -> list[TrustedIssuer]:
    if path is None:
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        return [TrustedIssuer.model_validate(item) for item in raw]
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise EminingError(f"cannot read the OIDC configuration {path}: {exc}") from exc


@dataclass(slots=True)
class _Keys:
    keys: KeySet
    fetched: float


@dataclass
class OidcVerifier:
    """Checks access tokens against the trusted issuers' published keys."""

    issuers: list[TrustedIssuer]
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=5.0))
    _cache: dict[str, _Keys] = field(default_factory=dict)

    async def principal(self, token: str) -> Principal:
        trusted = self._issuer_of(token)
        claims = await self._verified(token, trusted)
        subject = str(claims.get("sub") or "")
        if not subject:
            raise OidcError("the token names no subject (sub)")
        raw = claims.get(trusted.roles_claim) or []
        named = {str(r) for r in (raw if isinstance(raw, list) else str(raw).split())}
        roles = frozenset(r for r in PERSON_ROLES if r.value in named)
        return Principal(org=trusted.org, roles=roles or frozenset({UserRole.MACHINE}),
                         subject=f"oidc:{subject}", method=AuthMethod.OIDC)

    def _issuer_of(self, token: str) -> TrustedIssuer:
        issuer = _claims_without_checking(token).get("iss")
        found = next((i for i in self.issuers if i.issuer == issuer), None)
        if found is None:
            raise OidcError(f"issuer {issuer!r} is not trusted by this platform")
        return found

    async def _verified(self, token: str, trusted: TrustedIssuer) -> dict[str, Any]:
        for attempt in range(2):
            keys = await self._keys(trusted, refresh=attempt == 1)
            try:
                decoded = jwt.decode(token, keys, algorithms=trusted.algorithms)
                jwt.JWTClaimsRegistry(
                    iss={"essential": True, "value": trusted.issuer},
                    aud={"essential": True, "value": trusted.audience},
                    exp={"essential": True},
                ).validate(decoded.claims)
            except InvalidKeyIdError:
                if attempt == 0:
                    continue  # the provider may have rotated its keys: fetch them once more
                raise OidcError("the token is signed with a key the issuer does not "
                                "publish") from None
            except JoseError as exc:
                raise OidcError(f"{exc.error}: {exc.description}") from None
            return dict(decoded.claims)
        raise AssertionError("unreachable")

    async def _keys(self, trusted: TrustedIssuer, *, refresh: bool) -> KeySet:
        cached = self._cache.get(trusted.issuer)
        if cached and not refresh and time.monotonic() - cached.fetched < JWKS_TTL_S:
            return cached.keys
        try:
            uri = trusted.jwks_uri or (await self._json(
                trusted.issuer.rstrip("/") + "/.well-known/openid-configuration"))["jwks_uri"]
            keys = KeySet.import_key_set(await self._json(str(uri)))  # type: ignore[arg-type]  # a JWKS document: joserfc checks its shape
        except (httpx.HTTPError, KeyError, ValueError, TypeError, JoseError) as exc:
            raise OidcError(f"cannot read the keys of {trusted.issuer}: {exc}") from None
        self._cache[trusted.issuer] = _Keys(keys, time.monotonic())
        return keys

    async def _json(self, url: str) -> dict[str, Any]:
        answer = await self.client.get(url)
        answer.raise_for_status()
        body = answer.json()
        if not isinstance(body, dict):
            raise TypeError(f"{url} did not answer a JSON object")
        return body


def _claims_without_checking(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, not verified: used only to choose whose keys verify it."""
    try:
        payload = token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise OidcError(f"not a JWT access token ({exc})") from None
    if not isinstance(value, dict):
        raise OidcError("the token's payload is not a JSON object")
    return value
