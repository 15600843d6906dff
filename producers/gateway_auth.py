"""Gateway API keys: one per organisation, issued once, stored only as a SHA-256 hash."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.errors import EminingError

TOKEN_PREFIX = "emk_"  # noqa: S105 - a public marker, not a secret
"""Marks a string as an E-Mining gateway key (secret scanners can look for it)."""

_FORMAT_VERSION = 1


class ApiKeyError(EminingError):
    """The API key file cannot be read or changed as asked (unknown org, key already issued)."""


def hash_token(token: str) -> str:
    """SHA-256 hex of a token. Enough without a salt or KDF: tokens are 32 random bytes."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    org: str
    sha256: str
    created_at: str

    @property
    def fingerprint(self) -> str:
        """A short, non-secret handle to tell keys apart in listings and logs."""
        return self.sha256[:12]

    def as_dict(self) -> dict[str, str]:
        return {"org": self.org, "sha256": self.sha256, "created_at": self.created_at}


class ApiKeyStore:
    """The key file (JSON, mode 0600). Reloaded when it changes on disk, so the CLI's ``apikeys
    new`` and ``revoke`` take effect in a running gateway without a restart.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._by_hash: dict[str, ApiKeyRecord] = {}

    # -- reading (the gateway's hot path) ------------------------------------------------------

    def authenticate(self, token: str) -> str | None:
        """The organisation ``token`` belongs to, or None."""
        self._reload_if_changed()
        digest = hash_token(token)
        record = self._by_hash.get(digest)
        # The dict lookup finds the candidate; the constant-time compare is the actual check.
        if record is None or not hmac.compare_digest(record.sha256, digest):
            return None
        return record.org

    def records(self) -> list[ApiKeyRecord]:
        return sorted(self._read().values(), key=lambda r: r.org)

    def _reload_if_changed(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._by_hash = None, {}
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._by_hash = {r.sha256: r for r in self._read().values()}
            self._stamp = stamp

    def _read(self) -> dict[str, ApiKeyRecord]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ApiKeyError(f"cannot read API key file {self.path}: {exc}") from exc
        try:
            return {
                org: ApiKeyRecord(org=org, sha256=str(v["sha256"]), created_at=str(v["created_at"]))
                for org, v in doc["keys"].items()
            }
        except (KeyError, TypeError, AttributeError) as exc:
            raise ApiKeyError(f"{self.path} is not an API key file ({exc!r})") from exc

    # -- changing (the CLI) ----------------------------------------------------------------------

    def issue(self, org: str, *, replace: bool = False) -> str:
        """A new key for ``org``; returns the token, which is never stored or shown again."""
        token = new_token()
        with self._locked() as keys:
            if org in keys and not replace:
                raise ApiKeyError(
                    f"{org} already has an API key (created {keys[org].created_at}): "
                    "revoke it first, or pass --replace"
                )
            keys[org] = ApiKeyRecord(
                org=org, sha256=hash_token(token), created_at=datetime.now(UTC).isoformat()
            )
        return token

    def revoke(self, org: str) -> ApiKeyRecord:
        with self._locked() as keys:
            record = keys.pop(org, None)
        if record is None:
            raise ApiKeyError(f"{org} has no API key")
        return record

    @contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKeyRecord]]:
        """Read-modify-write under an exclusive lock, replacing the file atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            keys = self._read()
            yield keys
            doc: dict[str, Any] = {
                "version": _FORMAT_VERSION,
                "keys": {org: {"sha256": r.sha256, "created_at": r.created_at}
                         for org, r in sorted(keys.items())},
            }
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(doc, indent=2) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)
