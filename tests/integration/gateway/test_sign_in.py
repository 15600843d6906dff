"""A person signs in to the served app, reads, acts with the CSRF token, and signs out."""

from __future__ import annotations

import uuid

import pytest

from producers.accounts import AccountStore
from producers.authn import CSRF_HEADER, SESSION_COOKIE
from schemas.access import UserRole
from tests.integration.gateway.test_gateway import milestone, refused

pytestmark = pytest.mark.integration
PASSWORD = "a long enough passphrase"


@pytest.fixture(scope="module")
async def people(world) -> dict[str, str]:
    store = AccountStore(world.settings.accounts_store_url)
    await store.open()
    try:
        suffix = uuid.uuid4().hex[:6]
        names = {"officer": f"li.officer.{suffix}", "auditor": f"firm.auditor.{suffix}",
                 "guessed": f"guessed.{suffix}"}
        await store.add(names["officer"], world.firm.org, frozenset({UserRole.OFFICER}),
                        PASSWORD, "Li Wei")
        await store.add(names["auditor"], world.firm.org, frozenset({UserRole.AUDITOR}),
                        PASSWORD)
        await store.add(names["guessed"], world.agency.org, frozenset({UserRole.OFFICER}),
                        PASSWORD)
    finally:
        await store.close()
    return names


async def _sign_in(world, username: str) -> tuple[dict[str, str], str]:
    answer = await world.client.post("/v1/auth/login",
                                     json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    set_cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=strict" in set_cookie
    assert "Secure" in set_cookie
    token = answer.cookies.get(SESSION_COOKIE) or set_cookie.split("=", 1)[1].split(";")[0]
    return {"Cookie": f"{SESSION_COOKIE}={token}"}, answer.json()["csrf_token"]


async def test_a_person_signs_in_reads_acts_with_the_csrf_token_and_signs_out(world, people):
    cookie, csrf = await _sign_in(world, people["officer"])
    me = (await world.client.get("/v1/auth/me", headers=cookie)).json()
    assert (me["org"], me["roles"], me["subject"], me["method"]) == (
        world.firm.org, ["officer"], people["officer"], "session")
    assert me["csrf_token"] == csrf
    assert (await world.client.get("/v1/projects", headers=cookie)).status_code == 200

    before = await world.topics.end_offsets()
    no_token = await world.client.post("/v1/events", headers=cookie, json=milestone())
    assert "CSRF" in (await refused(world, before, no_token, 403))["detail"]
    wrong = await world.client.post("/v1/events", headers={**cookie, CSRF_HEADER: "x" * 32},
                                    json=milestone())
    await refused(world, before, wrong, 403)
    acted = await world.client.post("/v1/events", headers={**cookie, CSRF_HEADER: csrf},
                                    json=milestone())
    assert acted.status_code == 202, acted.text
    assert acted.json()["source"] == f"{world.firm.org}/custodial-gateway"

    signed_out = await world.client.post("/v1/auth/logout", headers={**cookie, CSRF_HEADER: csrf})
    assert signed_out.status_code == 204
    ended = await world.client.get("/v1/projects", headers=cookie)
    assert ended.status_code == 401
    assert "sign in again" in ended.json()["detail"]


async def test_a_firms_auditor_reads_but_does_not_act(world, people):
    cookie, csrf = await _sign_in(world, people["auditor"])
    assert (await world.client.get("/v1/shipments", headers=cookie)).status_code == 200
    before = await world.topics.end_offsets()
    answer = await world.client.post("/v1/events", headers={**cookie, CSRF_HEADER: csrf},
                                     json=milestone())
    assert "needs one of the roles" in (await refused(world, before, answer, 403))["detail"]


async def test_bad_sign_ins_are_4xx_and_say_nothing_about_who_exists(world, people):
    for body in ({"username": people["officer"], "password": "wrong wrong wrong"},
                 {"username": "nobody.here", "password": PASSWORD}):
        answer = await world.client.post("/v1/auth/login", json=body)
        assert (answer.status_code, answer.json()["detail"]) == (
            401, "wrong username or password")
    for body in ({}, {"username": "A B", "password": "x"}, "not json"):
        kwargs = {"content": body} if isinstance(body, str) else {"json": body}
        assert (await world.client.post("/v1/auth/login", **kwargs)).status_code == 422
    forged = {"Cookie": f"{SESSION_COOKIE}=made-up-token"}
    assert (await world.client.get("/v1/projects", headers=forged)).status_code == 401


async def test_guessing_a_password_is_stopped_with_retry_after(world, people):
    codes = []
    for _ in range(6):
        answer = await world.client.post("/v1/auth/login", json={
            "username": people["guessed"], "password": "guess guess guess"})
        codes.append(answer.status_code)
    assert codes == [401] * 5 + [429]
    locked = await world.client.post("/v1/auth/login", json={
        "username": people["guessed"], "password": PASSWORD})
    assert locked.status_code == 429  # the right password waits too
    assert int(locked.headers["retry-after"]) > 0


async def test_an_html_form_signs_in_too(world, people):
    answer = await world.client.post("/v1/auth/login", data={
        "username": people["auditor"], "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.json()["subject"] == people["auditor"]
