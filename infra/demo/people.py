"""The demo's people: one sign-in each for an agency officer, a firm's manager, an auditor and
the platform's operator, with passwords made anew on every run (shown in the summary)."""

from __future__ import annotations

import secrets

from infra.settings import Settings
from producers.accounts import AccountError, AccountStore
from schemas.access import UserRole
from schemas.alerts import PLATFORM_ORG

PEOPLE = (
    ("ba.officer", "urn:emining:pk:gov:ba-mmdd", UserRole.OFFICER,
     "Licensing officer, Mines & Minerals Development Department, Balochistan"),
    ("mcc.manager", "urn:emining:cn:ent:mcc-resources", UserRole.MANAGER,
     "Project manager, MCC Chagai Resources"),
    ("eiti.auditor", "urn:emining:xx:aud:eiti-independent", UserRole.AUDITOR,
     "Independent administrator, EITI"),
    ("platform.operator", PLATFORM_ORG, UserRole.OPERATOR, "Platform operator"),
)


async def sign_ins(settings: Settings) -> list[dict[str, str]]:
    """Make (or reset) each demo person's account; their usernames, roles and passwords."""
    store = AccountStore(settings.accounts_store_url)
    await store.open()
    out = []
    try:
        for username, org, role, name in PEOPLE:
            password = secrets.token_urlsafe(12)
            try:
                await store.add(username, org, frozenset({role}), password, name)
            except AccountError:  # a run before made it: a new password, the old sessions end
                await store.reset_password(username, password)
                await store.set_disabled(username, disabled=False)
            out.append({"username": username, "password": password, "org": org,
                        "role": role.value, "name": name})
    finally:
        await store.close()
    return out
