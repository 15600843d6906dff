"""Local accounts: Argon2id hashes, sessions that end, and brakes on password guessing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from producers.accounts import AccountError, AccountStore, Limits, LockedError
from schemas.access import AuthMethod, UserRole

BA = "urn:emining:pk:gov:ba-mmdd"
PASSWORD = "correct horse battery"


@pytest.fixture
async def store(tmp_path: Path) -> AccountStore:
    accounts = AccountStore.at(tmp_path / "state" / "accounts.sqlite",
                               Limits(user_failures=3, address_failures=5))
    await accounts.open()
    await accounts.add("ana", BA, frozenset({UserRole.OFFICER}), PASSWORD, "Ana Baloch")
    yield accounts
    await accounts.close()


async def test_a_password_is_stored_only_as_an_argon2id_hash(store: AccountStore) -> None:
    [row] = await store.list()
    assert (row.username, row.org, row.roles) == ("ana", BA, frozenset({UserRole.OFFICER}))
    async with store._engine.connect() as conn:  # the stored form, as an attacker would see it
        stored = (await conn.exec_driver_sql("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


async def test_signing_in_gives_a_session_whose_token_is_not_stored(store: AccountStore) -> None:
    session = await store.sign_in("ana", PASSWORD, "10.0.0.1")
    assert session is not None
    assert session.user.principal().method is AuthMethod.SESSION
    assert session.user.principal().org == BA
    async with store._engine.connect() as conn:
        kept = (await conn.exec_driver_sql("SELECT token_sha256 FROM sessions")).scalar_one()
    assert kept != session.token
    assert len(kept) == 64
    again = await store.session(session.token)
    assert again is not None
    assert again.csrf == session.csrf
    await store.sign_out(session.token)
    assert await store.session(session.token) is None


async def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(store: AccountStore):
    assert await store.sign_in("ana", "wrong password!!", "10.0.0.2") is None
    assert await store.sign_in("nobody", PASSWORD, "10.0.0.3") is None


async def test_guessing_a_password_is_braked_and_cannot_lock_the_owner_out(
    store: AccountStore,
) -> None:
    for _ in range(3):
        assert await store.sign_in("ana", "guess guess guess", "10.0.0.4") is None
    with pytest.raises(LockedError) as locked:
        await store.sign_in("ana", PASSWORD, "10.0.0.4")  # even the right one, from there
    assert 0 < locked.value.retry_after_s <= 15 * 60 + 1
    # The guesser's address is braked, not the person: from her own address she signs in.
    assert await store.sign_in("ana", PASSWORD, "10.0.0.9") is not None


async def test_one_address_guessing_many_usernames_is_braked(store: AccountStore) -> None:
    for n in range(5):
        assert await store.sign_in(f"user{n}", "guess guess guess", "10.0.0.5") is None
    with pytest.raises(LockedError):
        await store.sign_in("ana", PASSWORD, "10.0.0.5")
    assert await store.sign_in("ana", PASSWORD, "10.0.0.6") is not None


async def test_disabling_or_resetting_ends_sessions(store: AccountStore) -> None:
    first = await store.sign_in("ana", PASSWORD, "10.0.0.7")
    assert first is not None
    await store.reset_password("ana", "a brand new passphrase")
    assert await store.session(first.token) is None
    assert await store.sign_in("ana", PASSWORD, "10.0.0.7") is None
    second = await store.sign_in("ana", "a brand new passphrase", "10.0.0.7")
    assert second is not None
    await store.set_disabled("ana", disabled=True)
    assert await store.session(second.token) is None
    assert await store.sign_in("ana", "a brand new passphrase", "10.0.0.7") is None


async def test_an_idle_session_expires(tmp_path: Path) -> None:
    store = AccountStore.at(tmp_path / "a.sqlite", Limits(idle=timedelta(seconds=-1)))
    await store.open()
    try:
        await store.add("bo", BA, frozenset({UserRole.MANAGER}), PASSWORD)
        session = await store.sign_in("bo", PASSWORD, "10.0.0.8")
        assert session is not None
        assert await store.session(session.token) is None
    finally:
        await store.close()


@pytest.mark.parametrize(("org", "roles", "password", "why"), [
    (BA, frozenset(), PASSWORD, "at least one role"),
    (BA, frozenset({UserRole.OPERATOR}), PASSWORD, "only the platform"),
    (BA, frozenset({UserRole.MACHINE}), PASSWORD, "not a person's"),
    (BA, frozenset({UserRole.OFFICER}), "short", "at least 12"),
])
async def test_accounts_that_make_no_sense_are_refused(store, org, roles, password, why):
    with pytest.raises(AccountError, match=why):
        await store.add("cy", org, roles, password)
    with pytest.raises(AccountError, match="exists already"):
        await store.add("ana", BA, frozenset({UserRole.OFFICER}), PASSWORD)
