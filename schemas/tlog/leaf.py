"""The leaf data of one Kafka record (:func:`record_leaf`), as an unambiguous byte string.

:class:`PartitionLeaves` is the same encoding, fast, for the records of one partition; the
origin of a partition's log is ``emining/<topic>/<partition>`` (:func:`origin_for`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from schemas.tlog.errors import TlogError
from schemas.tlog.merkle import LEAF_PREFIX

ORIGIN_PREFIX = "emining/"
_NULL_LEN = 0xFFFFFFFF
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF
LEAF_MAGIC = b"emining-leaf/v1"


def _opt_bytes(value: bytes | None) -> bytes:
    if value is None:
        return struct.pack(">I", _NULL_LEN)
    if len(value) >= _NULL_LEN:
        raise TlogError("a key, value or header value must be shorter than 2**32 - 1 bytes")
    return struct.pack(">I", len(value)) + value


def record_leaf(
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]],
) -> bytes:
    """The leaf data of one Kafka record (hash it with :func:`leaf_hash`).

    All integers big-endian; strings UTF-8. The concatenation of:

    1. the 15 ASCII bytes ``emining-leaf/v1`` (no terminator);
    2. ``u16`` byte length of the topic name, then the topic name;
    3. ``u32`` partition;
    4. ``u64`` offset;
    5. ``i64`` broker timestamp in milliseconds since the epoch (as the consumer sees it);
    6. the key: ``u32`` byte length then the bytes, or ``u32`` ``0xFFFFFFFF`` and nothing for a
       null key (so a null key and an empty key differ);
    7. the value, encoded as the key;
    8. ``u32`` number of headers, then for each header in record order: ``u16`` byte length of
       its name, the name, then its value encoded as the key (``0xFFFFFFFF`` for null).
    """
    name = topic.encode("utf-8")
    if not name or len(name) > _U16_MAX:
        raise TlogError("a topic name is 1..65535 bytes")
    if not 0 <= partition <= _U32_MAX or not 0 <= offset < 1 << 64:
        raise TlogError("partition or offset out of range")
    if not -(1 << 63) <= timestamp_ms < 1 << 63:
        raise TlogError("timestamp out of range")
    parts = [
        LEAF_MAGIC,
        struct.pack(">H", len(name)),
        name,
        struct.pack(">IQq", partition, offset, timestamp_ms),
        _opt_bytes(key),
        _opt_bytes(value),
        struct.pack(">I", len(headers)),
    ]
    for header_name, header_value in headers:
        hn = header_name.encode("utf-8")
        if len(hn) > _U16_MAX:
            raise TlogError("a header name is at most 65535 bytes")
        parts += [struct.pack(">H", len(hn)), hn, _opt_bytes(header_value)]
    return b"".join(parts)


_pack_u16 = struct.Struct(">H").pack
_pack_u32 = struct.Struct(">I").pack
_pack_position = struct.Struct(">Qq").pack
_NULL_FIELD = _pack_u32(_NULL_LEN)


class PartitionLeaves:
    """:func:`record_leaf` and its :func:`leaf_hash` for the records of one partition, fast.

    The same bytes (``tests/unit/test_tlog_fast.py`` checks it): the leaf prefix, topic and
    partition are encoded once, header names once each, and a record's leaf is one
    ``bytes.join`` hashed with ``hashlib`` directly (the checkpointer calls this per record)."""

    __slots__ = ("_hashed_head", "_head", "_names")

    def __init__(self, topic: str, partition: int) -> None:
        name = topic.encode("utf-8")
        if not name or len(name) > _U16_MAX:
            raise TlogError("a topic name is 1..65535 bytes")
        if not 0 <= partition <= _U32_MAX:
            raise TlogError("partition or offset out of range")
        self._head = LEAF_MAGIC + _pack_u16(len(name)) + name + _pack_u32(partition)
        self._hashed_head = LEAF_PREFIX + self._head
        self._names: dict[str, bytes] = {}

    def _name(self, header_name: str) -> bytes:
        hn = header_name.encode("utf-8")
        if len(hn) > _U16_MAX:
            raise TlogError("a header name is at most 65535 bytes")
        encoded = self._names[header_name] = _pack_u16(len(hn)) + hn
        return encoded

    def leaf(self, offset: int, timestamp_ms: int, key: bytes | None, value: bytes | None,
             headers: Sequence[tuple[str, bytes | None]]) -> bytes:
        """``record_leaf(topic, partition, offset, timestamp_ms, key, value, headers)``."""
        return b"".join(self._parts(offset, timestamp_ms, key, value, headers, self._head))

    def leaf_hash(self, offset: int, timestamp_ms: int, key: bytes | None,
                  value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> bytes:
        """``leaf_hash(self.leaf(...))``: ``SHA-256(0x00 || leaf)``."""
        parts = self._parts(offset, timestamp_ms, key, value, headers, self._hashed_head)
        return hashlib.sha256(b"".join(parts)).digest()

    def _parts(self, offset: int, timestamp_ms: int, key: bytes | None, value: bytes | None,
               headers: Sequence[tuple[str, bytes | None]], head: bytes) -> list[bytes]:
        try:
            parts = [head, _pack_position(offset, timestamp_ms)]
        except struct.error as exc:
            raise TlogError("offset or timestamp out of range") from exc
        for field_ in (key, value):
            if field_ is None:
                parts.append(_NULL_FIELD)
            elif len(field_) >= _NULL_LEN:
                raise TlogError(
                    "a key, value or header value must be shorter than 2**32 - 1 bytes")
            else:
                parts += (_pack_u32(len(field_)), field_)
        parts.append(_pack_u32(len(headers)))
        names = self._names
        for header_name, header_value in headers:
            parts.append(names.get(header_name) or self._name(header_name))
            if header_value is None:
                parts.append(_NULL_FIELD)
            elif len(header_value) >= _NULL_LEN:
                raise TlogError(
                    "a key, value or header value must be shorter than 2**32 - 1 bytes")
            else:
                parts += (_pack_u32(len(header_value)), header_value)
        return parts


def origin_for(topic: str, partition: int) -> str:
    """The origin (log identity) of one partition's log: ``emining/<topic>/<partition>``."""
    return f"{ORIGIN_PREFIX}{topic}/{partition}"


def parse_origin(origin: str) -> tuple[str, int]:
    """``(topic, partition)`` of an origin made by :func:`origin_for`."""
    if not origin.startswith(ORIGIN_PREFIX):
        raise TlogError(f"not an E-Mining origin: {origin!r}")
    topic, _, partition = origin[len(ORIGIN_PREFIX) :].rpartition("/")
    if not topic or not partition.isdigit() or origin_for(topic, int(partition)) != origin:
        raise TlogError(f"not an E-Mining origin: {origin!r}")
    return topic, int(partition)

