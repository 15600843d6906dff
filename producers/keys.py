"""Key files on disk: written owner-only, read back with a clear error when anything is off."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from schemas.errors import SignatureError
from schemas.signing import PrivateKey


def key_file_name(org: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", org.removeprefix("urn:emining:").lower()).strip("-") + ".key"


def write_key(key: PrivateKey, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``key`` to ``path`` with mode 0600; never clobber a key by accident."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise SignatureError(f"{path} exists; refusing to overwrite a private key") from exc
    os.fchmod(fd, 0o600)  # before the secret is written: O_TRUNC keeps an old file's mode
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.to_json() + "\n")
    path.chmod(0o600)
    return path


def load_key(path: Path) -> PrivateKey:
    """Read a key file; refuse one that other users can read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SignatureError(f"cannot read key file {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SignatureError(f"key file {path} is readable by others (chmod 600 {path})")
    return PrivateKey.from_json(text)
