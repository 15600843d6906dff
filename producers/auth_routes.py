"""Signing in and out over HTTP: a session cookie for people, and who-am-I for everyone."""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, ValidationError

from producers.accounts import USERNAME_PATTERN, AccountStore, LockedError
from producers.authn import SESSION_COOKIE, Authenticator
from schemas.access import Principal


class Credentials(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    org: str
    roles: list[str]
    subject: str
    method: str
    name: str | None = None
    csrf_token: str | None = Field(default=None, description="send it as X-CSRF-Token (or the "
                                   "csrf_token form field) with every request that changes "
                                   "something, when signed in with the session cookie")


def create_auth_router(accounts: AccountStore, authenticator: Authenticator, *,
                       secure_cookie: bool = True) -> APIRouter:
    """``/auth/login``, ``/auth/logout``, ``/auth/me`` (mounted under ``/v1``)."""
    router = APIRouter(tags=["sign-in"])
    Caller = Annotated[Principal, Depends(authenticator)]  # noqa: N806 - a type alias

    @router.post("/auth/login", response_model=Me, openapi_extra={"requestBody": {
                     "required": True, "content": {
                         "application/json": {"schema": Credentials.model_json_schema()},
                         "application/x-www-form-urlencoded": {
                             "schema": Credentials.model_json_schema()}}}},
                 responses={401: {"description": "Wrong username or password."},
                            422: {"description": "No username or password, or malformed."},
                            429: {"description": "Too many failed sign-ins: wait Retry-After "
                                                 "seconds."}})
    async def login(request: Request, response: Response) -> Any:
        """Sign in with a username and password (JSON or an HTML form): sets the session
        cookie (HttpOnly, SameSite=Strict) and returns the CSRF token."""
        given = await _credentials(request)
        address = request.client.host if request.client else "unknown"
        try:
            session = await accounts.sign_in(given.username, given.password, address)
        except LockedError as exc:
            raise HTTPException(429, str(exc),
                                headers={"Retry-After": str(exc.retry_after_s)}) from None
        if session is None:
            raise HTTPException(401, "wrong username or password")
        set_session_cookie(response, session.token, secure=secure_cookie,
                           max_age=int(accounts.limits.absolute.total_seconds()))
        user = session.user
        return Me(org=user.org, roles=sorted(user.roles), subject=user.username,
                  method="session", name=user.name, csrf_token=session.csrf)

    @router.post("/auth/logout", status_code=204, response_class=Response)
    async def logout(request: Request, _: Caller) -> Response:
        """End this session (the cookie is cleared)."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await accounts.sign_out(token)
        answer = Response(status_code=204)
        answer.delete_cookie(SESSION_COOKIE, path="/")
        return answer

    @router.get("/auth/me", response_model=Me)
    async def me(request: Request, principal: Caller) -> Any:
        """Who this request is from: organisation, roles, how it signed in."""
        if principal.org is None:
            raise HTTPException(401, "not signed in")
        csrf = None
        token = request.cookies.get(SESSION_COOKIE)
        if principal.method.value == "session" and token:
            session = await accounts.session(token)
            csrf = session.csrf if session else None
        return Me(org=principal.org, roles=sorted(principal.roles), subject=principal.subject,
                  method=principal.method.value, csrf_token=csrf)

    return router


def set_session_cookie(response: Response, token: str, *, secure: bool, max_age: int) -> None:
    """The session cookie, the same from the API's sign-in and the console's: HttpOnly (no
    script reads it) and SameSite=Strict (no request from another site carries it)."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure,
                        path="/", max_age=max_age)


async def _credentials(request: Request) -> Credentials:
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            raw: Any = {"username": form.get("username"), "password": form.get("password")}
        else:
            raw = json.loads(await request.body() or b"null")
        return Credentials.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else [
            {"type": "json_invalid", "loc": ["body"], "msg": str(exc)}]
        raise HTTPException(422, json.loads(json.dumps(detail, default=str))) from None
