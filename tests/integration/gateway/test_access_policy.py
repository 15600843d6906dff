"""Every route of the served app, called by every kind of caller, answers as the policy says.

The expectations are written here by hand, independently of ``consumers.policy.ROUTES``: a route
added to the app without a line in ``EXPECTED`` fails ``test_every_route_has_an_expectation``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from consumers.views.registry import VIEWS
from producers.accounts import AccountStore
from producers.authn import CSRF_HEADER, SESSION_COOKIE
from producers.gateway_auth import ApiKeyStore
from schemas.access import UserRole
from schemas.alerts import PLATFORM_ORG
from schemas.participants import Organisation
from schemas.signing import PrivateKey
from tests.integration.gateway.conftest import publish_registry, schemathesis, unique_org

pytestmark = pytest.mark.integration

READS_EXCLUDED = "positive_data_acceptance,allow_header_conformance"
"""``positive_data_acceptance``: a body can match the schema and still be refused (see
test_gateway.py). ``allow_header_conformance``: Starlette answers a wrong method with 405 and the
``Allow`` of the one route it matched, not of every route on that path; nothing to secure."""

CALLERS = ("anonymous",
           # machine clients: each organisation's API key
           "firm", "agency", "auditor", "platform",
           # people signed in with a session, one per role and side
           "firm_officer", "firm_manager", "firm_auditor", "agency_officer", "agency_manager",
           "audit_user", "operator")
OK, NO_SIGN_IN, FORBIDDEN = "ok", 401, 403
SIGNED_IN = CALLERS[1:]


def _only(allowed: set[str]) -> dict[str, Any]:
    """Anonymous callers sign in first; signed-in callers outside ``allowed`` are refused."""
    return {"anonymous": NO_SIGN_IN} | {c: OK if c in allowed else FORBIDDEN for c in SIGNED_IN}


PUBLIC = dict.fromkeys(CALLERS, OK)
PARTICIPANTS = _only(set(SIGNED_IN))
ACTORS = _only({"firm", "agency", "firm_officer", "firm_manager", "agency_officer",
                "agency_manager"})
MANAGERS = _only({"firm", "agency", "auditor", "platform", "firm_manager", "agency_manager"})
AUDIT = _only({"auditor", "platform", "audit_user", "operator"})
OPERATOR = _only({"platform", "operator"})

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/v1/projects"): PARTICIPANTS,
    ("GET", "/v1/projects/{project_id}"): PARTICIPANTS,
    ("GET", "/v1/projects/{project_id}/timeline"): PARTICIPANTS,
    ("GET", "/v1/approvals"): PARTICIPANTS,
    ("GET", "/v1/approvals/{ref}"): PARTICIPANTS,
    ("GET", "/v1/shipments"): PARTICIPANTS,
    ("GET", "/v1/shipments/{shipment_id}"): PARTICIPANTS,
    ("GET", "/v1/timeline/{subject}"): PARTICIPANTS,
    ("POST", "/v1/events"): ACTORS,
    ("POST", "/v1/subscriptions"): ACTORS,
    ("GET", "/v1/subscriptions"): PARTICIPANTS,
    ("DELETE", "/v1/subscriptions/{sub_id}"): ACTORS,
    ("POST", "/v1/webhooks"): MANAGERS,
    ("GET", "/v1/webhooks"): MANAGERS,
    ("DELETE", "/v1/webhooks/{webhook_id}"): MANAGERS,
    ("POST", "/v1/alerts/channels/{channel}"): MANAGERS,
    ("GET", "/v1/alerts/channels/{channel}"): MANAGERS,
    ("DELETE", "/v1/alerts/channels/{channel}/{target_id}"): MANAGERS,
    ("GET", "/v1/alerts/stream"): PARTICIPANTS,
    ("GET", "/v1/audit/reads"): AUDIT,
    ("GET", "/metrics"): OPERATOR,
    ("GET", "/v1/health"): PUBLIC,
    ("GET", "/v1/public/licences"): PUBLIC,
    ("GET", "/v1/public/lead-times"): PUBLIC,
    ("GET", "/v1/public/timeline/{ref}"): PUBLIC,
    ("POST", "/v1/auth/login"): PUBLIC,
    ("POST", "/v1/auth/logout"): PUBLIC,
    ("GET", "/v1/auth/me"): PARTICIPANTS,
    ("GET", "/"): PUBLIC,
    # The console's pages: as the JSON they show (a page refuses an anonymous caller by sending
    # it to /login, counted here as 401).
    ("GET", "/events/{ref}"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/inbox"): PARTICIPANTS,
    ("GET", "/projects"): PARTICIPANTS,
    ("GET", "/projects/{project_id}"): PARTICIPANTS,
    ("GET", "/approvals"): PARTICIPANTS,
    ("GET", "/approvals/{ref}"): PARTICIPANTS,
    ("GET", "/shipments"): PARTICIPANTS,
    ("GET", "/shipments/{shipment_id}"): PARTICIPANTS,
    ("GET", "/go/{subject}"): PARTICIPANTS,
    ("GET", "/approvals/{ref}/history"): PARTICIPANTS,
    ("GET", "/lead-times"): PUBLIC,
    ("GET", "/act"): ACTORS,
    ("GET", "/act/{form}"): ACTORS,
    ("POST", "/act/{form}"): ACTORS,
    ("GET", "/audit"): AUDIT,
    ("GET", "/audit/verify"): AUDIT,
    ("GET", "/audit/report.html"): AUDIT,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
}
EXPECTED |= {("GET", path): PARTICIPANTS for view in VIEWS if view.name not in {
    "projects", "approvals", "shipments"} for path in (f"/v1/{view.name}",
                                                     f"/v1/{view.name}/{{{view.id_param}}}")}
"""Every other registered view's two routes (``consumers.views.registry``): any participant is
admitted, as for the three above; which rows each then sees is the view's declared visibility
(its own test shows it, e.g. ``tests/unit/views/test_valuations.py``)."""


PASSWORD = "a long enough passphrase"
PEOPLE = {  # caller → (organisation key, role)
    "firm_officer": ("firm", UserRole.OFFICER), "firm_manager": ("firm", UserRole.MANAGER),
    "firm_auditor": ("firm", UserRole.AUDITOR), "agency_officer": ("agency", UserRole.OFFICER),
    "agency_manager": ("agency", UserRole.MANAGER), "audit_user": ("auditor", UserRole.AUDITOR),
    "operator": ("platform", UserRole.OPERATOR),
}


@pytest.fixture(scope="module")
async def callers(world) -> dict[str, dict[str, str]]:
    auditor = PrivateKey.generate(unique_org("xx", "aud", "policy-auditor"))
    await publish_registry(world.kafka, world.operator, world.operator_chains, [
        Organisation.model_validate({"id": auditor.org, "names": {"en": "Auditor (test)"},
                                     "side": "PK", "role": "auditor"})],
        {auditor.org: auditor.public_key})
    orgs = {"firm": world.firm.org, "agency": world.agency.org, "auditor": auditor.org,
            "platform": PLATFORM_ORG}
    keys = ApiKeyStore(world.settings.api_keys_path)
    tokens = {"firm": world.firm_token, "agency": world.agency_token,
              "auditor": keys.issue(auditor.org, replace=True),
              "platform": keys.issue(PLATFORM_ORG, replace=True)}
    await world.state.refresh_registry()
    headers = {"anonymous": {}, **{k: world.auth(v) for k, v in tokens.items()}}
    accounts = AccountStore(world.settings.accounts_store_url)
    await accounts.open()
    try:
        for caller, (org, role) in PEOPLE.items():
            username = f"{caller.replace('_', '.')}.{uuid.uuid4().hex[:6]}"
            await accounts.add(username, orgs[org], frozenset({role}), PASSWORD)
            session = await accounts.sign_in(username, PASSWORD, f"policy-{caller}")
            assert session is not None
            headers[caller] = {"Cookie": f"{SESSION_COOKIE}={session.token}",
                               CSRF_HEADER: session.csrf, "X-Username": username}
    finally:
        await accounts.close()
    return headers


def _operations(world) -> list[tuple[str, str]]:
    paths = world.app.openapi()["paths"]
    documented = [(m.upper(), p) for p, ops in paths.items() for m in ops]
    # Every route, those of included routers too (FastAPI nests them: ``app.routes`` alone
    # would leave the console's pages out of the walk).
    plain = [(m, str(ctx.path_format)) for ctx in iter_route_contexts(world.app.routes)
             if getattr(ctx.original_route, "include_in_schema", 1) is False
             for m in sorted(ctx.methods or {"GET"}) if m != "HEAD"]
    # Signing out last: it ends the session the other calls are made with.
    return sorted(set(documented) | set(plain),
                  key=lambda op: (op[1] in {"/v1/auth/logout", "/logout"}, op))


def test_every_route_has_an_expectation(world):
    missing = [op for op in _operations(world) if op not in EXPECTED]
    assert missing == [], f"routes without an expectation in this test: {missing}"


async def _call(client: httpx.AsyncClient, method: str, path: str,
                headers: dict[str, str]) -> int:
    url = re.sub(r"\{[^}]+\}", "PK-TEST-0001", path)
    body = {"json": {}} if method == "POST" else {}
    if path.endswith("/stream"):  # a live stream: the status line is the answer
        try:
            async with asyncio.timeout(5), client.stream(method, url, headers=headers) as answer:
                return answer.status_code
        except TimeoutError:  # open and waiting for alerts: refusals come before the stream
            return 200
    answer = await client.request(method, url, headers=headers, **body)
    if answer.status_code == 303 and answer.headers["location"].startswith("/login?"):
        return NO_SIGN_IN  # a console page sends an anonymous caller to sign in
    return answer.status_code


async def _fresh_session(world, headers: dict[str, str]) -> dict[str, str]:
    """The caller signed in again (one sign-out ends the session the next would use)."""
    if SESSION_COOKIE not in headers.get("Cookie", ""):
        return headers
    accounts = AccountStore(world.settings.accounts_store_url)
    await accounts.open()
    try:
        token = headers["Cookie"].split("=", 1)[1]
        old = await accounts.session(token)
        username = old.user.username if old else headers["X-Username"]
        session = await accounts.sign_in(username, PASSWORD, "policy-again")
        assert session is not None
    finally:
        await accounts.close()
    return {**headers, "Cookie": f"{SESSION_COOKIE}={session.token}",
            CSRF_HEADER: session.csrf}


@pytest.mark.parametrize("caller", CALLERS)
async def test_each_caller_is_admitted_or_refused_as_the_policy_says(world, callers, caller):
    wrong = {}
    headers = callers[caller]
    for method, path in _operations(world):
        expected = EXPECTED.get((method, path), {}).get(caller)
        if path in {"/v1/auth/logout", "/logout"}:
            headers = await _fresh_session(world, headers)
        status = await _call(world.client, method, path, headers)
        got = status if status in {NO_SIGN_IN, FORBIDDEN} else OK
        if got != expected:
            wrong[f"{method} {path}"] = status
    assert wrong == {}, f"{caller}: answers against the policy: {wrong}"


def test_the_openapi_document_states_each_operation_s_audience(world):
    paths = world.app.openapi()["paths"]
    assert paths["/v1/public/licences"]["get"]["x-emining-access"]["audience"] == "public"
    assert paths["/v1/public/licences"]["get"]["security"][0] == {}
    shipments = paths["/v1/shipments"]["get"]
    assert shipments["x-emining-access"]["audience"] == "participant"
    assert {"401", "403"} <= set(shipments["responses"])
    assert paths["/metrics"]["get"]["x-emining-access"]["audience"] == "operator"


async def test_schemathesis_over_every_read_route_finds_no_server_error(world, callers, tmp_path):
    """Every operation but the event intake (its own run in test_gateway.py) and the live
    stream, as a signed-in auditor (who may call the most routes): no 5xx, no undocumented
    status, answers matching their schemas."""
    returncode, report = await schemathesis(
        world.app,
        "--header", f"Authorization: {callers['auditor']['Authorization']}",
        "--checks", "all", "--exclude-checks", READS_EXCLUDED,
        "--exclude-path-regex", "^/v1/(events|alerts/stream)$",
        "--max-examples", "25", "--seed", "20261205", "--workers", "1",
        "--phases", "examples,coverage,fuzzing")
    assert returncode == 0, report[-8000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected, report[-3000:]
    assert tested, report[-3000:]
    # Every documented operation but the two left out above (the console's pages and the
    # docs' own are not in the OpenAPI document; the walk above calls them).
    documented = [(m, p) for p, ops in world.app.openapi()["paths"].items() for m in ops]
    assert int(tested.group(1)) == int(selected.group(1)) == len(documented) - 2


async def test_the_documentation_works_without_the_internet(world):
    """/docs, /redoc and the console (/) load their scripts, styles and fonts from this server,
    none from a CDN."""
    home = await world.client.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    local = re.findall(r'<(?:link rel="stylesheet"|script) (?:src|href)="([^"]+)"', home.text)
    assert sorted(local) == ["/static/console.css", "/static/console.js"]
    for asset in local:
        assert (await world.client.get(asset)).status_code == 200, asset
    links = re.findall(r'(?:src|href)="([^"]+)"', home.text)
    assert links
    assert not [a for a in links if a.startswith(("http:", "https:", "//"))], links
    for page in ("/docs", "/redoc"):
        html = (await world.client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets, page
        assert all(a.startswith("/") for a in assets), (page, assets)
        for asset in assets:
            answer = await world.client.get(asset)
            assert answer.status_code == 200, asset
            assert len(answer.content) > 1000, asset
    bundle = await world.client.get("/static-offline-docs/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]
