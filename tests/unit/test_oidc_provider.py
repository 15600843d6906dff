"""OIDC access tokens from a real OpenID provider (panva/node-oidc-provider, run with node).

``tests/oidc_provider`` holds the provider (``npm ci`` installs it; ``make test`` does). With
``EMINING_REQUIRE_OIDC=1`` (``make test``, CI) a missing node or provider fails the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from producers.oidc import OidcError, OidcVerifier, TrustedIssuer
from schemas.access import AuthMethod, UserRole

PROVIDER = Path(__file__).parents[1] / "oidc_provider"
ORG = "urn:emining:cn:ent:mcc-resources"
CLIENT = ("mcc-erp", "a-test-secret-for-the-erp-client")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    node = shutil.which("node")
    if node is None or not (PROVIDER / "node_modules" / "oidc-provider").exists():
        why = "no node, or the provider is not installed (npm ci --prefix tests/oidc_provider)"
        if os.environ.get("EMINING_REQUIRE_OIDC") == "1":
            pytest.fail(why + " and EMINING_REQUIRE_OIDC=1", pytrace=False)
        pytest.skip(why)
    port = _free_port()
    process = subprocess.Popen([node, str(PROVIDER / "server.mjs"), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                said = process.stdout.read() if process.stdout else ""
                pytest.fail(f"the OpenID provider stopped: {said}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _token(url: str, **extra: str) -> str:
    answer = httpx.post(f"{url}/token", auth=CLIENT, data={
        "grant_type": "client_credentials", "resource": "urn:emining:api", **extra})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def test_a_token_from_the_organisations_provider_acts_for_it(issuer):
    async with httpx.AsyncClient() as client:
        verifier = OidcVerifier([TrustedIssuer(issuer=issuer, org=ORG, audience="emining",
                                               algorithms=["RS256"])], client)
        principal = await verifier.principal(_token(issuer))
    assert (principal.org, principal.roles, principal.subject, principal.method) == (
        ORG, frozenset({UserRole.OFFICER}), "oidc:mcc-erp", AuthMethod.OIDC)


async def test_its_tokens_are_refused_where_the_audience_or_algorithm_is_not_ours(issuer):
    token = _token(issuer)
    async with httpx.AsyncClient() as client:
        other_audience = OidcVerifier([TrustedIssuer(issuer=issuer, org=ORG,
                                                     audience="someone-else")], client)
        with pytest.raises(OidcError, match="aud"):
            await other_audience.principal(token)
        no_rsa = OidcVerifier([TrustedIssuer(issuer=issuer, org=ORG, audience="emining",
                                             algorithms=["ES256"])], client)
        with pytest.raises(OidcError, match="RS256"):
            await no_rsa.principal(token)
        forged = token[:-8] + ("A" * 8 if not token.endswith("A" * 8) else "B" * 8)
        trusting = OidcVerifier([TrustedIssuer(issuer=issuer, org=ORG, audience="emining",
                                               algorithms=["RS256"])], client)
        with pytest.raises(OidcError):
            await trusting.principal(forged)
