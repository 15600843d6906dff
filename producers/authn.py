"""Who is calling: one place turns a request's credential into a ``Principal``.

Three ways in, tried in this order: an organisation's API key (``Authorization: Bearer emk_…``
or ``X-API-Key``; a machine client), an OAuth2/OIDC access token of an identity provider the
operator trusts for one organisation (``Authorization: Bearer <JWT>``), and a person's session
cookie (``emining_session``, after ``POST /v1/auth/login``). No credential is the anonymous
caller; a credential that does not hold is a 401, never a fall-back to anonymous. A
cookie-authenticated request that changes something must carry the session's CSRF token
(``X-CSRF-Token`` header or ``csrf_token`` form field): another site cannot make a signed-in
browser act.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations at run time.

import hmac
from typing import Annotated

import structlog
from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from producers.accounts import AccountStore, Session
from producers.gateway_auth import TOKEN_PREFIX, ApiKeyStore, hash_token
from producers.oidc import OidcError, OidcVerifier
from schemas.access import ANONYMOUS, AuthMethod, Principal, UserRole

log = structlog.get_logger("producers.authn")

SESSION_COOKIE = "emining_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_CHALLENGE = 'Bearer realm="emining"'

bearer = HTTPBearer(auto_error=False, description="an API key (emk_…) or an OIDC access token")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="or X-API-Key")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                      description="a person's session (POST /v1/auth/login)")


def _refused(detail: str, error: str = "invalid_token") -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate":
                                               f'{_CHALLENGE}, error="{error}"'})


class Authenticator:
    """A FastAPI dependency: ``principal: Annotated[Principal, Depends(authenticator)]``."""

    def __init__(self, api_keys: ApiKeyStore, accounts: AccountStore | None = None,
                 oidc: OidcVerifier | None = None) -> None:
        self.api_keys, self.accounts, self.oidc = api_keys, accounts, oidc

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
        api_key: Annotated[str | None, Security(header_key)],
        session_token: Annotated[str | None, Security(cookie)],
    ) -> Principal:
        token = credentials.credentials if credentials else api_key
        if token:
            principal = await self._token(token)
        elif session_token and not request.url.path.endswith("/login"):
            # (signing in again with a stale cookie must work: the sign-in routes, the API's
            # /v1/auth/login and the console's /login, ignore it)
            principal = await self._session(request, session_token)
        else:
            principal = ANONYMOUS
        request.state.principal = principal
        if principal.org:
            structlog.contextvars.bind_contextvars(org=principal.org)
        return principal

    async def _token(self, token: str) -> Principal:
        if token.startswith(TOKEN_PREFIX) or self.oidc is None or token.count(".") != 2:  # noqa: PLR2004 - a JWT's three parts
            org = self.api_keys.authenticate(token)
            if org is None:
                raise _refused("this API key is not valid (revoked or mistyped)")
            return Principal(org=org, roles=frozenset({UserRole.MACHINE}),
                             subject=f"api-key:{hash_token(token)[:12]}",
                             method=AuthMethod.API_KEY)
        try:
            return await self.oidc.principal(token)
        except OidcError as exc:
            log.warning("oidc_token_refused", reason=str(exc))
            raise _refused(f"the access token is not valid: {exc}") from None

    async def _session(self, request: Request, token: str) -> Principal:
        if self.accounts is None:
            raise _refused("sessions are not enabled on this server")
        session = await self.accounts.session(token)
        if session is None:
            raise _refused("the session has ended: sign in again", "invalid_session")
        request.state.session = session  # the pages read its CSRF token and name from here
        if request.method not in _SAFE:
            sent = request.headers.get(CSRF_HEADER)
            if sent is None and request.headers.get("content-type", "").startswith(
                    ("application/x-www-form-urlencoded", "multipart/form-data")):
                sent = str((await request.form()).get("csrf_token") or "")
            if not sent or not hmac.compare_digest(sent, session.csrf):
                raise HTTPException(403, "this request changes something and lacks the "
                                    f"session's CSRF token ({CSRF_HEADER} header or "
                                    "csrf_token field)")
        return session.user.principal()


async def request_session(request: Request, accounts: AccountStore, token: str) -> Session | None:
    """The session of ``token`` for this request: the one the authenticator found (its idle clock
    restarted already), else looked up (which restarts it), so a page asks the store once."""
    found = getattr(request.state, "session", None)
    if isinstance(found, Session) and found.token == token:
        return found
    return await accounts.session(token)
