"""``emining users …``: the people who sign in to the web API, each in one organisation."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from infra.cli.common import console, deferred, fail, key_table, print_json, run
from schemas.access import UserRole

if TYPE_CHECKING:
    from infra.settings import Settings
else:  # imported when a command first uses them: `emining` starts light
    Settings = deferred("infra.settings", "Settings")

T = TypeVar("T")

users_app = typer.Typer(help="People's accounts: add, list, disable, enable, reset a password.",
                        no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON on stdout")]
PasswordFile = Annotated[Path | None, typer.Option(
    help="read the password from this file (first line); default: a generated one, shown once")]


async def _with_store(work: Callable[[Any], Awaitable[T]]) -> T:
    from producers.accounts import AccountStore  # noqa: PLC0415 - keep CLI start-up light

    store = AccountStore(Settings().accounts_store_url)
    try:
        await store.open()
        return await work(store)
    finally:
        await store.close()


def _password(path: Path | None) -> tuple[str, bool]:
    if path is None:
        return secrets.token_urlsafe(15), True
    try:
        return path.read_text(encoding="utf-8").splitlines()[0], False
    except (OSError, IndexError, UnicodeDecodeError) as exc:
        fail(f"cannot read a password from {path}: {exc}")


def _row(user: Any) -> dict[str, Any]:
    return {"username": user.username, "org": user.org, "roles": sorted(user.roles),
            "name": user.name, "disabled": user.disabled, "created_at": user.created_at}


@users_app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="lower case: letters, digits, . _ -")],
    org: Annotated[str, typer.Option(help="the organisation's URN")],
    role: Annotated[list[UserRole], typer.Option(
        "--role", help="officer, manager, auditor (operator: platform only); repeat")],
    name: Annotated[str, typer.Option(help="the person's name, as shown")] = "",
    password_file: PasswordFile = None,
    as_json: JsonOption = False,
) -> None:
    """Add a person; the password (generated unless given) is printed once."""
    import re  # noqa: PLC0415

    from producers.accounts import USERNAME_PATTERN  # noqa: PLC0415

    if not re.fullmatch(USERNAME_PATTERN, username):
        fail(f"username {username!r}: lower case letters, digits, '.', '_' or '-', 2-63 long")
    password, generated = _password(password_file)
    user = run(_with_store(lambda s: s.add(username, org, frozenset(role), password, name)))
    if as_json:
        print_json({**_row(user), "password": password if generated else None})
        return
    console.print(f"added {user.username} ({', '.join(sorted(user.roles))}) of {user.org}",
                  highlight=False)
    if generated:
        console.print(f"password (shown once): {password}", highlight=False)


@users_app.command("list")
def list_users(
    org: Annotated[str | None, typer.Option(help="only this organisation's")] = None,
    as_json: JsonOption = False,
) -> None:
    users = run(_with_store(lambda s: s.list(org)))
    if as_json:
        print_json([_row(u) for u in users])
        return
    console.print(key_table(["username", "organisation", "roles", "name", "state"],
                            [[u.username, u.org, ", ".join(sorted(u.roles)), u.name,
                              "disabled" if u.disabled else "active"] for u in users]))


@users_app.command("disable")
def disable(username: str) -> None:
    """Stop a person signing in; their open sessions end at once."""
    run(_with_store(lambda s: s.set_disabled(username, disabled=True)))
    console.print(f"disabled {username}; their sessions ended", highlight=False)


@users_app.command("enable")
def enable(username: str) -> None:
    run(_with_store(lambda s: s.set_disabled(username, disabled=False)))
    console.print(f"enabled {username}", highlight=False)


@users_app.command("reset-password")
def reset_password(username: str, password_file: PasswordFile = None,
                   as_json: JsonOption = False) -> None:
    """Set a new password (generated unless given); the person's sessions end."""
    password, generated = _password(password_file)
    run(_with_store(lambda s: s.reset_password(username, password)))
    if as_json:
        print_json({"username": username, "password": password if generated else None})
        return
    console.print(f"new password for {username}" + (f" (shown once): {password}"
                                                      if generated else " set"),
                  highlight=False)
