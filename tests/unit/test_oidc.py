"""OIDC access tokens checked against a provider's published keys, served over real HTTP."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from producers.oidc import OidcError, OidcVerifier, TrustedIssuer
from schemas.access import AuthMethod, UserRole
from tests.unit.http_server import QuietHandler, serving

ORG = "urn:emining:cn:ent:mcc-resources"


class Provider:
    """A minimal identity provider: discovery document and JWKS, keys it can rotate."""

    def __init__(self) -> None:
        self.keys = [ECKey.generate_key("P-256", parameters={"kid": "k1"})]
        self.url = ""
        self.jwks_fetches = 0

    def token(self, key: ECKey | None = None, alg: str = "ES256", **claims: Any) -> str:
        key = key or self.keys[-1]
        now = int(time.time())
        payload = {"iss": self.url, "aud": "emining", "sub": "svc-1", "iat": now,
                   "exp": now + 300, **claims}
        return jwt.encode({"alg": alg, "kid": key.kid}, payload, key)


@contextmanager
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": state.url, "jwks_uri": state.url + "/jwks"}
            elif self.path == "/jwks":
                state.jwks_fetches += 1
                body = KeySet(list(state.keys)).as_dict(private=False)
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.answer_json(200, json.dumps(body).encode())

    with serving(Handler) as base:
        state.url = base
        yield state


@pytest.fixture
async def idp() -> Iterator[tuple[Provider, OidcVerifier]]:
    with provider() as state:
        async with httpx.AsyncClient() as client:
            verifier = OidcVerifier([TrustedIssuer(issuer=state.url, org=ORG,
                                                   audience="emining")], client)
            yield state, verifier


async def test_a_valid_token_acts_for_the_issuers_organisation_with_its_roles(idp):
    state, verifier = idp
    person = await verifier.principal(state.token(roles=["officer", "admin"], org="urn:x"))
    assert (person.org, person.roles, person.subject, person.method) == (
        ORG, frozenset({UserRole.OFFICER}), "oidc:svc-1", AuthMethod.OIDC)
    client = await verifier.principal(state.token())
    assert client.roles == frozenset({UserRole.MACHINE})  # no role of ours: a machine client


@pytest.mark.parametrize(("claims", "why"), [
    (lambda now: {"exp": now - 10}, "expired"),
    (lambda now: {"aud": "someone-else"}, "aud"),
    (lambda now: {"nbf": now + 600}, "not yet valid"),
    (lambda now: {"sub": ""}, "no subject"),
])
async def test_tokens_that_do_not_hold_are_refused_naming_why(idp, claims, why):
    state, verifier = idp  # times taken now, not when the suite was collected minutes ago
    with pytest.raises(OidcError, match=why):
        await verifier.principal(state.token(**claims(int(time.time()))))


async def test_an_untrusted_issuer_a_forged_signature_and_alg_none_are_refused(idp):
    state, verifier = idp
    with pytest.raises(OidcError, match="not trusted"):
        await verifier.principal(state.token(iss="https://evil.example"))
    forger = ECKey.generate_key("P-256", parameters={"kid": "k1"})  # the same kid, other key
    with pytest.raises(OidcError, match="signature"):
        await verifier.principal(state.token(key=forger))
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(
        {"iss": state.url, "aud": "emining", "sub": "x", "exp": int(time.time()) + 60}
    ).encode()).rstrip(b"=").decode()
    with pytest.raises(OidcError):
        await verifier.principal(f"{header}.{body}.")
    with pytest.raises(OidcError, match="not a JWT"):
        await verifier.principal("not.a-jwt.at-all")


async def test_a_rotated_key_is_fetched_once_an_unknown_one_is_refused(idp):
    state, verifier = idp
    await verifier.principal(state.token())
    fetched = state.jwks_fetches
    state.keys.append(ECKey.generate_key("P-256", parameters={"kid": "k2"}))
    assert (await verifier.principal(state.token())).org == ORG  # signed with k2
    assert state.jwks_fetches == fetched + 1
    stranger = ECKey.generate_key("P-256", parameters={"kid": "k9"})
    with pytest.raises(OidcError, match="does not publish"):
        await verifier.principal(state.token(key=stranger))
