"""People who sign in: local accounts, their sessions, and the brakes on guessing passwords.

A user belongs to one organisation and has roles (``schemas.access.UserRole``). Passwords are
hashed with Argon2id (``argon2-cffi``) and rehashed at sign-in when the parameters change.
Sessions are random tokens kept only as SHA-256 hashes, with an idle and an absolute expiry and
their own CSRF token; disabling a user or resetting a password ends its sessions. Sign-in
failures are counted per username and client address, and per address: past a threshold the
next attempts from there are refused for a while (``LockedError``), whatever the password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, delete, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from schemas.access import AuthMethod, Principal, UserRole
from schemas.alerts import PLATFORM_ORG
from schemas.errors import EminingError

log = structlog.get_logger("producers.accounts")

metadata = MetaData()
users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("org", String(120), nullable=False),
    Column("roles", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", String(40), nullable=False),
)
sessions = Table(
    "sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("seen_at", String(40), nullable=False),
)
failures = Table(
    "signin_failures", metadata,
    Column("key", String(200), primary_key=True),
    Column("failed", Integer, nullable=False),
    Column("first_at", String(40), nullable=False),
)

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"
MIN_PASSWORD = 12


class AccountError(EminingError):
    """An account change that cannot be made as asked (unknown user, bad role, weak password)."""


class LockedError(EminingError):
    """Too many failed sign-ins for this username or address: wait ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class User:
    username: str
    org: str
    roles: frozenset[UserRole]
    name: str
    disabled: bool
    created_at: str

    def principal(self) -> Principal:
        return Principal(org=self.org, roles=self.roles, subject=self.username,
                         method=AuthMethod.SESSION)


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    """Given to the browser once, in the cookie; only its hash is stored."""
    csrf: str
    user: User


@dataclass(frozen=True, slots=True)
class Limits:
    """How long sessions live and how fast guessing is braked."""

    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)
    user_failures: int = 5
    address_failures: int = 20
    window: timedelta = timedelta(minutes=15)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_roles(org: str, roles: frozenset[UserRole]) -> None:
    if not roles:
        raise AccountError("a user has at least one role")
    if UserRole.OPERATOR in roles and org != PLATFORM_ORG:
        raise AccountError(f"only the platform ({PLATFORM_ORG}) has operators")
    if UserRole.MACHINE in roles:
        raise AccountError("machine is a client's role (API key, OIDC client), not a person's")


class AccountStore:
    """Users, sessions and sign-in failures in one SQL database (SQLite file by default)."""

    def __init__(self, url: str, limits: Limits | None = None) -> None:
        self.url = url
        self.limits = limits or Limits()
        self._engine: AsyncEngine = create_async_engine(url)
        self._hasher = PasswordHasher()  # Argon2id, the library's current recommended costs
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def at(cls, path: Path, limits: Limits | None = None) -> AccountStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite+aiosqlite:///{path.resolve()}", limits)

    async def open(self) -> None:
        database = make_url(self.url).database
        if make_url(self.url).get_backend_name() == "sqlite" and database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        await self._engine.dispose()

    # -- accounts (the CLI) ---------------------------------------------------------------------

    async def add(self, username: str, org: str, roles: frozenset[UserRole], password: str,
                  name: str = "") -> User:
        check_roles(org, roles)
        _check_password(password)
        row = {"username": username, "org": org, "roles": ",".join(sorted(roles)),
               "name": name or username, "password_hash": self._hasher.hash(password),
               "disabled": False, "created_at": _iso(_now())}
        async with self._engine.begin() as conn:
            if (await conn.execute(select(users.c.username)
                                   .where(users.c.username == username))).first():
                raise AccountError(f"user {username} exists already")
            await conn.execute(users.insert().values(**row))
        return _user(row)

    async def list(self, org: str | None = None) -> list[User]:
        query = select(users).order_by(users.c.org, users.c.username)
        if org:
            query = query.where(users.c.org == org)
        async with self._engine.connect() as conn:
            return [_user(r._asdict()) for r in await conn.execute(query)]

    async def set_disabled(self, username: str, *, disabled: bool) -> User:
        async with self._engine.begin() as conn:
            found = await conn.execute(update(users).where(users.c.username == username)
                                       .values(disabled=disabled))
            if not found.rowcount:
                raise AccountError(f"no user {username}")
            if disabled:
                await conn.execute(delete(sessions).where(sessions.c.username == username))
        return await self.get(username)

    async def reset_password(self, username: str, password: str) -> None:
        _check_password(password)
        async with self._engine.begin() as conn:
            found = await conn.execute(update(users).where(users.c.username == username)
                                       .values(password_hash=self._hasher.hash(password)))
            if not found.rowcount:
                raise AccountError(f"no user {username}")
            await conn.execute(delete(sessions).where(sessions.c.username == username))

    async def get(self, username: str) -> User:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.username == username))).first()
        if row is None:
            raise AccountError(f"no user {username}")
        return _user(row._asdict())

    # -- signing in (the HTTP service) ----------------------------------------------------------

    async def sign_in(self, username: str, password: str, address: str) -> Session | None:
        """A new session, or None for a wrong username or password (the same answer for both,
        in about the same time). ``LockedError`` while either is braked."""
        # Per username *from this address*, and per address: a stranger guessing someone's
        # password from elsewhere cannot lock that person out of their own sign-in.
        keys = (f"user:{username.lower()}@{address}", f"address:{address}")
        await self._braked(keys)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.username == username))).first()
        stored = row.password_hash if row is not None else self._dummy
        try:
            self._hasher.verify(stored, password)
            ok = row is not None and not row.disabled
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or row is None:
            await self._failed(keys)
            log.warning("sign_in_failed", username=username[:64], address=address)
            return None
        user = _user(row._asdict())
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), _iso(_now())
        async with self._engine.begin() as conn:
            if self._hasher.check_needs_rehash(stored):
                await conn.execute(update(users).where(users.c.username == username)
                                   .values(password_hash=self._hasher.hash(password)))
            await conn.execute(delete(failures).where(failures.c.key.in_(keys)))
            await conn.execute(sessions.insert().values(
                token_sha256=_sha(token), username=username, csrf=csrf, created_at=now,
                seen_at=now))
        log.info("signed_in", username=username, org=user.org, address=address)
        return Session(token, csrf, user)

    async def session(self, token: str) -> Session | None:
        """The live session of ``token`` (its idle clock restarted), or None."""
        now = _now()
        async with self._engine.begin() as conn:
            row = (await conn.execute(
                select(sessions.c.csrf, sessions.c.seen_at,
                       sessions.c.created_at.label("started_at"), users)
                .join(users, users.c.username == sessions.c.username)
                .where(sessions.c.token_sha256 == _sha(token)))).first()
            if row is None:
                return None
            expired = (now - datetime.fromisoformat(row.seen_at) > self.limits.idle
                       or now - datetime.fromisoformat(row.started_at) > self.limits.absolute)
            if expired or row.disabled:
                await conn.execute(delete(sessions).where(sessions.c.token_sha256 == _sha(token)))
                return None
            await conn.execute(update(sessions).where(sessions.c.token_sha256 == _sha(token))
                               .values(seen_at=_iso(now)))
        return Session(token, row.csrf, _user(row._asdict()))

    async def sign_out(self, token: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.token_sha256 == _sha(token)))

    async def _braked(self, keys: tuple[str, str]) -> None:
        now = _now()
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(select(failures).where(failures.c.key.in_(keys))))
        for row in rows:
            limit = (self.limits.user_failures if row.key.startswith("user:")
                     else self.limits.address_failures)
            ends = datetime.fromisoformat(row.first_at) + self.limits.window
            if row.failed >= limit and now < ends:
                raise LockedError(int((ends - now).total_seconds()) + 1)

    async def _failed(self, keys: tuple[str, str]) -> None:
        now = _now()
        async with self._engine.begin() as conn:
            for key in keys:
                row = (await conn.execute(select(failures).where(failures.c.key == key))).first()
                if row is None or now - datetime.fromisoformat(row.first_at) > self.limits.window:
                    await conn.execute(delete(failures).where(failures.c.key == key))
                    await conn.execute(failures.insert().values(key=key, failed=1,
                                                                first_at=_iso(now)))
                else:
                    await conn.execute(update(failures).where(failures.c.key == key)
                                       .values(failed=row.failed + 1))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")


def _user(row: dict[str, object]) -> User:
    roles = frozenset(UserRole(r) for r in str(row["roles"]).split(",") if r)
    return User(str(row["username"]), str(row["org"]), roles, str(row["name"]),
                bool(row["disabled"]), str(row["created_at"]))
