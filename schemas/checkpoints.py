"""The records of checkpoints, cosignatures and refusals on the log (issue 21). Pure.

``emining.checkpoints.v1`` (the platform writes; every participant reads). Key: the origin
(``emining/<topic>/<partition>``, UTF-8). Value, JSON::

    {"note": "<the checkpoint as a signed note, key name emining-platform>",
     "time": <unix seconds when published>,
     "previous_size": <size of the platform's previous checkpoint of this origin, or null>,
     "consistency": ["<base64 hash>", ...]}   # RFC 9162 proof previous_size -> size

``emining.cosignatures.v1`` (witnesses write; every participant reads). Key: the origin.
Value, JSON::

    {"origin": "...", "size": <int>, "root": "<base64>", "witness": "<org URN>",
     "key_name": "emining-witness/<org URN>", "line": "— <key_name> <base64 sig>\\n"}

``line`` is a c2sp.org/tlog-cosignature (v1, Ed25519, type 0x04) signature line over the
checkpoint ``origin\\nsize\\nbase64(root)\\n`` (E-Mining checkpoints carry no extension lines), by
the witness organisation's registered Ed25519 key. The broker does not say who wrote a record:
a reader trusts a cosignature only when the line verifies under a key the registry gives
``witness`` (:func:`verify_cosignature_record`), so writing one "as" another organisation gains
nothing.

``emining.refusals.v1`` (witnesses write; every participant reads). Key: the origin. Value,
JSON: ``{"note": <signed refusal note>, "witness", "key_name", "origin", "kind", "record",
"detail", "refused": <the refused checkpoint note>}``. The refusal note's text is::

    emining-refusal/v1
    <witness org URN>
    <origin>
    <kind: fork | shrink | bad_proof | bad_signature>
    <the refused record: topic:partition:offset>
    <sha256 hex of the refused record's value>
    <unix seconds>

signed (signed-note Ed25519, type 0x01) by the witness's key under ``key_name``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from schemas.tlog import (
    Checkpoint,
    TlogError,
    b64,
    cosignature_time,
    parse_note,
    sign_note,
    unb64,
    verify_note_signature,
)

WITNESS_KEY_PREFIX = "emining-witness/"
REFUSAL_HEADER = "emining-refusal/v1"
MAX_TIME = 253402300799
"""The largest unix time a record may state (9999-12-31T23:59:59Z): larger ones are refused."""


MAX_STATEMENT_BYTES = 4096
"""The largest cosignature or refusal value a reader accepts: anyone may write those topics,
so a larger one is refused unread (a witness's own refusals are trimmed to fit)."""


def _small(value: bytes | None, what: str) -> bytes:
    raw = value or b""
    if len(raw) > MAX_STATEMENT_BYTES:
        raise TlogError(f"a {what} value of {len(raw)} bytes (at most {MAX_STATEMENT_BYTES})")
    return raw


def checked_time(value: object, name: str = "time") -> int:
    """``value`` as unix seconds in ``0..MAX_TIME``; :class:`TlogError` otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TIME:
        raise TlogError(f"{name} is unix seconds in 0..{MAX_TIME}")
    return value


CLOCK_SKEW = timedelta(minutes=10)
"""How far a cosignature's or refusal's declared time may be from the record's timestamp (or
before the checkpoint's time): further is a backdated (or postdated) statement."""


def record_moment(timestamp_ms: int) -> datetime | None:
    """A record's broker timestamp as a datetime; ``None`` when unknown or out of range."""
    if not 0 <= timestamp_ms <= MAX_TIME * 1000:
        return None
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def utc(seconds: int) -> datetime:
    """A time checked by :func:`checked_time` as an aware UTC datetime (never raises for it)."""
    return datetime.fromtimestamp(checked_time(seconds), UTC)


def witness_key_name(org_id: str) -> str:
    """The note key name of an organisation's witness: ``emining-witness/<org URN>``."""
    return WITNESS_KEY_PREFIX + org_id


class RefusalKind(StrEnum):
    FORK = "fork"
    """A head of a size the witness already cosigned (or saw signed) with another root."""
    SHRINK = "shrink"
    """A head smaller than the last one the witness cosigned."""
    BAD_PROOF = "bad_proof"
    """The consistency proof from the witness's last head does not verify: history rewritten."""
    BAD_SIGNATURE = "bad_signature"
    """Not signed by the platform's key (trust anchor) under ``emining-platform``."""


def _obj(value: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise TlogError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise TlogError("not a JSON object")
    return doc


def _int(doc: dict[str, Any], name: str, *, nullable: bool = False) -> int | None:
    value = doc.get(name)
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 63:
        raise TlogError(f"{name} is an integer in 0..2**63-1")
    return value


def _str(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise TlogError(f"{name} is a non-empty string")
    return value


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    note: str
    time: int
    previous_size: int | None
    consistency: tuple[bytes, ...]

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(parse_note(self.note).text)

    def to_value(self) -> bytes:
        return _dump({"note": self.note, "time": self.time, "previous_size": self.previous_size,
                      "consistency": [b64(h) for h in self.consistency]})

    @classmethod
    def from_value(cls, value: bytes | None) -> CheckpointRecord:
        doc = _obj(value or b"")
        proof = doc.get("consistency")
        if not isinstance(proof, list) or not all(isinstance(h, str) for h in proof):
            raise TlogError("consistency is a list of base64 hashes")
        time = checked_time(doc.get("time"))
        return cls(_str(doc, "note"), time, _int(doc, "previous_size", nullable=True),
                   tuple(unb64(h) for h in proof))


@dataclass(frozen=True, slots=True)
class CosignatureRecord:
    origin: str
    size: int
    root: bytes
    witness: str
    key_name: str
    line: str

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.origin, self.size, self.root)

    def to_value(self) -> bytes:
        return _dump({"origin": self.origin, "size": self.size, "root": b64(self.root),
                      "witness": self.witness, "key_name": self.key_name, "line": self.line})

    @classmethod
    def from_value(cls, value: bytes | None) -> CosignatureRecord:
        doc = _obj(_small(value, "cosignature"))
        size = _int(doc, "size")
        assert size is not None
        return cls(_str(doc, "origin"), size, unb64(_str(doc, "root")), _str(doc, "witness"),
                   _str(doc, "key_name"), _str(doc, "line"))


def verify_cosignature_record(record: CosignatureRecord,
                              witness_keys: Iterable[bytes]) -> int | None:
    """The cosignature's time if its line verifies under one of ``witness_keys`` (the keys the
    registry gives ``record.witness``) with the key name ``emining-witness/<witness>``."""
    if record.key_name != witness_key_name(record.witness):
        return None
    for key in witness_keys:
        when = cosignature_time(record.checkpoint, record.line, record.key_name, key)
        if when is not None:
            return when
    return None


@dataclass(frozen=True, slots=True)
class Refusal:
    """What a witness refused and why, as it signs it."""

    witness: str
    origin: str
    kind: RefusalKind
    record: str
    record_sha256: str
    time: int

    def text(self) -> str:
        lines = [REFUSAL_HEADER, self.witness, self.origin, self.kind.value, self.record,
                 self.record_sha256, str(self.time)]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Refusal:
        lines = text.split("\n")
        if len(lines) != 8 or lines[0] != REFUSAL_HEADER or lines[-1]:  # noqa: PLR2004
            raise TlogError("not an emining-refusal/v1 note")
        _, witness, origin, kind, record, digest, time, _ = lines
        if (not time.isascii() or not time.isdigit() or len(time) > len(str(MAX_TIME))
                or time != str(int(time)) or int(time) > MAX_TIME):
            raise TlogError(f"a refusal's time is unix seconds in 0..{MAX_TIME}")
        try:
            refusal_kind = RefusalKind(kind)
        except ValueError as exc:
            raise TlogError(f"unknown refusal kind {kind!r}") from exc
        return cls(witness, origin, refusal_kind, record, digest, int(time))


def sha256_hex(value: bytes | None) -> str:
    return hashlib.sha256(value or b"").hexdigest()


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    note: str
    refusal: Refusal
    key_name: str
    detail: str
    refused: str

    def to_value(self) -> bytes:
        r = self.refusal
        return _dump({"note": self.note, "witness": r.witness, "key_name": self.key_name,
                      "origin": r.origin, "kind": r.kind.value, "record": r.record,
                      "detail": self.detail, "refused": self.refused})

    @classmethod
    def make(cls, refusal: Refusal, seed: bytes, detail: str, refused: str) -> RefusalRecord:
        name = witness_key_name(refusal.witness)
        made = cls(sign_note(refusal.text(), name, seed), refusal, name, detail[:1000], refused)
        while len(made.to_value()) > MAX_STATEMENT_BYTES and (made.refused or made.detail):
            # the refused record is named by place and hash: its copy is only a courtesy
            if made.refused:
                cut = made.refused[: len(made.refused) // 2]
                made = cls(made.note, refusal, name, made.detail, cut)
            else:
                made = cls(made.note, refusal, name, made.detail[: len(made.detail) // 2], "")
        return made

    @classmethod
    def from_value(cls, value: bytes | None) -> RefusalRecord:
        doc = _obj(_small(value, "refusal"))
        note = _str(doc, "note")
        refusal = Refusal.parse(parse_note(note).text)
        fields = (doc.get("witness"), doc.get("origin"), doc.get("kind"), doc.get("record"))
        if fields != (refusal.witness, refusal.origin, refusal.kind.value, refusal.record):
            raise TlogError("a refusal's fields differ from its signed note")
        detail, refused = doc.get("detail", ""), doc.get("refused", "")
        if not isinstance(detail, str) or not isinstance(refused, str):
            raise TlogError("detail and refused are strings")
        return cls(note, refusal, _str(doc, "key_name"), detail, refused)

    def verify(self, witness_keys: Iterable[bytes]) -> bool:
        """Signed by one of ``witness_keys`` (the registry's keys of the witness)?"""
        if self.key_name != witness_key_name(self.refusal.witness):
            return False
        parsed = parse_note(self.note)
        return any(verify_note_signature(parsed, self.key_name, k) for k in witness_keys)
