"""What every console page shares: ``Page`` (the language, formats, the reader, rendering with
the security headers), the policy's answers a page shows (``allowed``, ``may_act``), and the
query parameters' checks.

The page modules (``pages`` and its ``pages_*`` rooms) import this; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from consumers.access_http import Access
from consumers.console import labels
from consumers.console.i18n import (
    LANGS,
    Formats,
    Lang,
    from_accept_language,
    lang_of,
    term,
    zone_for,
)
from consumers.console.i18n import translations as catalogue
from consumers.policy import Refusal, admit, rule_for
from schemas.registry import OrgRecord, Registry

HERE = Path(__file__).parent
STATIC = HERE / "static"
LANG_COOKIE = "emining_lang"
TAG = "console"
"""Every console route carries this tag: its refusals are answered as pages."""
SECURITY_HEADERS = {
    # Nothing inline, nothing from elsewhere: the pages' CSS, script and font are served here.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
ACT_PATH = "/act/{form}"


def allowed(caller: Access | None, method: str, path: str) -> bool:
    """Does the one policy admit ``caller`` to the route ``method path`` (a template)?"""
    if caller is None or caller.principal.anonymous:
        return False
    try:
        admit(rule_for(method, path), caller.principal, caller.registry, method, path)
    except Refusal:
        return False
    return True


def may_act(caller: Access | None) -> bool:
    """Does the one policy let ``caller`` post a form (the rule of ``POST /act/{form}``)?"""
    return allowed(caller, "POST", ACT_PATH)


def _environment(lang: Lang) -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(catalogue(lang.catalogue),  # type: ignore[attr-defined]
                                     newstyle=True)
    return env


_ENVIRONMENTS: dict[str, Environment] = {}


def environment(lang: Lang) -> Environment:
    """One Jinja2 environment per language (its catalogue installed), built once."""
    if lang.code not in _ENVIRONMENTS:
        _ENVIRONMENTS[lang.code] = _environment(lang)
    return _ENVIRONMENTS[lang.code]


def choose_language(request: Request, org: OrgRecord | None) -> tuple[Lang, bool]:
    """``?lang=`` (remembered in a cookie), else the cookie, else the signed-in organisation's
    preferred language (the registry), else the browser's, else English. Second: remember it."""
    asked = lang_of(request.query_params.get("lang"))
    if asked is not None:
        return asked, True
    kept = lang_of(request.cookies.get(LANG_COOKIE))
    if kept is not None:
        return kept, False
    if org is not None:
        return LANGS[org.language.value], False
    return from_accept_language(request.headers.get("accept-language")) or LANGS["en"], False


class Page:
    """What every template gets: the language, formats, the reader, links in other languages."""

    def __init__(self, request: Request, caller: Access | None, registry: Registry,
                 csrf: str | None = None) -> None:
        self.request = request
        self.caller = caller
        self.org = caller.org if caller else None
        self.lang, self.remember = choose_language(request, self.org)
        self.fmt = Formats(self.lang, zone_for(self.org.side if self.org else None))
        self.registry = registry
        self.csrf = csrf
        self._by_party: dict[str, OrgRecord] | None = None

    @property
    def signed_in(self) -> bool:
        return self.caller is not None and not self.caller.principal.anonymous

    @property
    def audits(self) -> bool:
        """May the reader open the audit pages (the policy's rule of ``/audit``)?"""
        return allowed(self.caller, "GET", "/audit")

    @property
    def acts(self) -> bool:
        """May the reader act from the console (the policy's rule of the forms)?"""
        return may_act(self.caller)

    def org_name(self, party: str | None) -> str:
        """An organisation's name in the page's language, from its URN, USCC or source."""
        if not party:
            return ""
        if self._by_party is None:
            self._by_party = {pid: o for o in self.registry.orgs.values() for pid in o.party_ids}
        org = self._by_party.get(party.split("/", 1)[0])
        if org is None:
            return party
        return str(org.names.get(self.lang.code) or org.names.get("en") or party)

    def names(self, names: Mapping[str, Any] | None) -> str:
        if not names:
            return ""
        return str(names.get(self.lang.code) or names.get("en") or "")

    def link(self, **changes: str | None) -> str:
        """This page's address with some query parameters changed (None: removed)."""
        params = dict(self.request.query_params.items())
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return f"{self.request.url.path}?{urlencode(params)}" if params else self.request.url.path

    def lang_link(self, code: str) -> str:
        return self.link(lang=code, cursor=None)

    def context(self, **values: Any) -> dict[str, Any]:
        return {"page": self, "lang": self.lang, "langs": LANGS, "fmt": self.fmt,
                "term": lambda table, code: term(table, code, self.lang),
                "label": labels.label, "L": labels, "path": self.request.url.path, **values}

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        html = environment(self.lang).get_template(template).render(self.context(**values))
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if self.remember:
            response.set_cookie(LANG_COOKIE, self.lang.code, max_age=365 * 86400,
                                samesite="lax", httponly=True, path="/")
        return response


PageOf = Callable[[Request, Access], Awaitable[Page]]
"""A request's ``Page`` (``create_console_router``'s ``page``: the reader's CSRF token read
from their session), as the route modules get it."""


def one_of(value: str | None, choices: Iterable[Any]) -> str | None:
    """A filter value if it is one of ``choices`` (an enumeration), else no filter."""
    return value if value and value in {str(c.value) for c in choices} else None


def safe_cursor(value: str | None) -> str | None:
    """A page cursor as given, if it can be one (else: the first page)."""
    return value if value and len(value) <= 200 and value.isprintable() else None  # noqa: PLR2004


def safe_position(value: str | None) -> str | None:
    """A timeline position as given, if it can be one (else: from the start)."""
    return value if value and value.isdigit() and len(value) <= 18 else None  # noqa: PLR2004
