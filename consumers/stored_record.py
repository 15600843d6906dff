"""A consumed record as the views keep it: held, or as the provenance of a timeline entry.

Its own module, with nothing of the store: the verify worker (``consumers.verify_pool``) builds
its records as these, and importing ``consumers.holding`` would load the held-record store,
SQLAlchemy and the fold into a process that only verifies (``tests/unit/test_verify_pool.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import orjson

from consumers.verification import RawRecord

_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(..., separators=(",", ":"))`` without building an encoder per call."""


def _compact(doc: dict[str, Any]) -> str:
    """``_COMPACT.encode(doc)``, by orjson when that is the same text: printable ASCII with
    orjson's escapes, which are ``json``'s (``_COMPACT`` escapes every other character; a
    header name may have any). The text lands in the timeline, which the views digest covers."""
    try:
        fast = orjson.dumps(doc)
    except orjson.JSONEncodeError:
        return _COMPACT.encode(doc)
    if fast.isascii() and b"\x7f" not in fast:
        return fast.decode()
    return _COMPACT.encode(doc)


def _b64(raw: bytes | None) -> str | None:
    """``base64.b64encode(raw).decode()``, one call shorter (once per header of each record)."""
    return None if raw is None else binascii.b2a_base64(raw, newline=False).decode()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as kept in the store (shaped like aiokafka's ``ConsumerRecord``)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int = -1
    timestamp_type: int = -1

    def dumps(self, *, value: bool = True) -> str:
        """JSON; ``value=False`` leaves the value out (the timeline keeps the data already)."""
        return _compact({"topic": self.topic, "key": _b64(self.key),
                         "value": _b64(self.value) if value else None,
                         "headers": [[k, _b64(v)] for k, v in self.headers],
                         "ts": self.timestamp, "tt": self.timestamp_type})

    @classmethod
    def loads(cls, text: str, partition: int, offset: int,
              value: bytes | None = None) -> StoredRecord:
        """The record back; ``value`` where it was stored without (the signed data: the
        signature covers its canonical form, so these bytes verify as the original did)."""
        doc = json.loads(text)

        def raw(value: str | None) -> bytes | None:
            return None if value is None else base64.b64decode(value)
        return cls(doc["topic"], partition, offset, raw(doc["key"]),
                   raw(doc["value"]) if doc["value"] is not None else value,
                   tuple((k, raw(v)) for k, v in doc["headers"]), doc["ts"], doc["tt"])

    @classmethod
    def of(cls, record: RawRecord) -> StoredRecord:
        return cls(record.topic, record.partition, record.offset, record.key, record.value,
                   tuple(record.headers), getattr(record, "timestamp", -1),
                   getattr(record, "timestamp_type", -1))
