"""The console's sign-in: the form (with its double-submit CSRF token), signing in through the
accounts' own checks (lock-out included), signing out."""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations at run
# time and they name the ``Caller`` dependency local to ``add_signin_routes``.

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from consumers.access_http import Access
from consumers.console.page import Page, PageOf
from producers.accounts import AccountStore, LockedError
from producers.auth_routes import Credentials, set_session_cookie
from producers.authn import SESSION_COOKIE

LOGIN_CSRF_COOKIE = "emining_login_csrf"


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a URL)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/inbox"


def add_signin_routes(  # noqa: C901 - one small handler per page
    router: APIRouter, access: Callable[..., Awaitable[Access]], page: PageOf, *,
    accounts: AccountStore, secure_cookie: bool,
) -> None:
    Caller = Annotated[Access, Depends(access)]  # noqa: N806 - a type alias

    @router.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, caller: Caller, next: str | None = None,  # noqa: A002
                         ) -> Response:
        if not caller.principal.anonymous:
            return RedirectResponse(_safe_next(next), 303)
        return _login_page(await page(request, caller), _safe_next(next))

    def _login_page(here: Page, goto: str, error: str | None = None,
                    status: int = 200) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = here.render("login.html", status, next=goto, login_csrf=token, error=error)
        # Double submit: the form's token must equal this cookie, which another site can
        # neither read nor set, so no page elsewhere can sign a browser in as someone else.
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure_cookie, path="/login", max_age=3600)
        return response

    @router.post("/login", response_class=HTMLResponse)
    async def login(request: Request, caller: Caller) -> Response:
        form = await request.form()
        goto = _safe_next(str(form.get("next") or ""))
        here = await page(request, caller)
        sent, kept = str(form.get("csrf_token") or ""), request.cookies.get(LOGIN_CSRF_COOKIE)
        if not kept or not hmac.compare_digest(sent, kept):
            return _login_page(here, goto, "expired", 400)
        try:
            given = Credentials.model_validate({"username": form.get("username"),
                                                "password": form.get("password")})
        except ValidationError:
            return _login_page(here, goto, "wrong", 401)
        address = request.client.host if request.client else "unknown"
        try:
            session = await accounts.sign_in(given.username, given.password, address)
        except LockedError as exc:
            answer = _login_page(here, goto, "locked", 429)
            answer.headers["Retry-After"] = str(exc.retry_after_s)
            return answer
        if session is None:
            return _login_page(here, goto, "wrong", 401)
        response = RedirectResponse(goto, 303)
        set_session_cookie(response, session.token, secure=secure_cookie,
                           max_age=int(accounts.limits.absolute.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request, _: Caller) -> RedirectResponse:
        # The session's CSRF token was checked by the authenticator (a POST with the cookie).
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await accounts.sign_out(token)
        response = RedirectResponse("/", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
