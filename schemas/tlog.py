"""Transparency-log primitives for cosigned checkpoints (issue 21).

Pure: ``hashlib``, ``struct``, ``base64`` and Ed25519 (PyNaCl, the project's signature
library). No I/O. Three parts, each following a public specification so that an auditor can
check everything with stock tools:

* **Merkle trees** (RFC 9162 §2.1): leaf hash ``SHA-256(0x00 || data)``, node hash
  ``SHA-256(0x01 || left || right)``, the root of the empty tree ``SHA-256("")``; inclusion and
  consistency proofs and their verification (§2.1.3, §2.1.4). :class:`MerkleLog` appends leaf
  hashes and answers roots and proofs at any size from cached complete subtrees.
* **Leaf data** (:func:`record_leaf`): one Kafka record as an unambiguous byte string.
* **Signed notes** (c2sp.org/signed-note), **checkpoints** (c2sp.org/tlog-checkpoint) and
  **Ed25519 cosignatures** (c2sp.org/tlog-cosignature, signature type ``0x04``).

One log per partition: the origin of a partition's log is ``emining/<topic>/<partition>``
(:func:`origin_for`); the platform signs its checkpoints with the key name
``emining-platform`` (:data:`PLATFORM_KEY_NAME`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162: the hash of an empty tree is the hash of the empty string."""

PLATFORM_KEY_NAME = "emining-platform"
"""The note key name of the platform's checkpoint signatures."""
ORIGIN_PREFIX = "emining/"

SIG_TYPE_ED25519 = 0x01
"""signed-note signature type of plain Ed25519 note signatures (the log's own)."""
SIG_TYPE_COSIGNATURE_V1 = 0x04
"""signed-note signature type of timestamped Ed25519 checkpoint cosignatures."""

MAX_SIGNATURES = 100
"""A note with more signature lines than this is rejected (the spec asks for at least 16)."""

_EM_DASH = "\u2014"
_NULL_LEN = 0xFFFFFFFF
_U16_MAX = 0xFFFF
_U32_MAX = 0xFFFFFFFF
LEAF_MAGIC = b"emining-leaf/v1"
_COSIG_LEN = 8 + 64
"""A cosignature's bytes after the key id: u64 time and an Ed25519 signature."""


class TlogError(ValueError):
    """A malformed note, checkpoint, signature line or leaf field."""


# --- RFC 9162 Merkle tree hashing -------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


RangeHash = Callable[[int, int], bytes]
"""``MTH(D[lo:hi])`` for ``lo < hi``."""


def _list_range_hash(leaf_hashes: Sequence[bytes]) -> RangeHash:
    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = _split(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth


def _path(mth: RangeHash, index: int, lo: int, hi: int) -> list[bytes]:
    """RFC 9162 PATH(m, D[lo:hi]), leaf first."""
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if index < lo + k:
        return [*_path(mth, index, lo, lo + k), mth(lo + k, hi)]
    return [*_path(mth, index, lo + k, hi), mth(lo, lo + k)]


def _subproof(mth: RangeHash, m: int, lo: int, hi: int, *, whole: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[lo:hi], b) with ``m`` counted from ``lo``."""
    n = hi - lo
    if m == n:
        return [] if whole else [mth(lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(mth, m, lo, lo + k, whole=whole), mth(lo + k, hi)]
    return [*_subproof(mth, m - k, lo + k, hi, whole=False), mth(lo, lo + k)]


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The RFC 9162 Merkle tree hash over the given leaf hashes (in order)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    return _list_range_hash(leaf_hashes)(0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of all ``leaf_hashes``."""
    if not 0 <= index < len(leaf_hashes):
        raise TlogError(f"leaf index {index} outside a tree of size {len(leaf_hashes)}")
    return _path(_list_range_hash(leaf_hashes), index, 0, len(leaf_hashes))


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` leaves is a prefix of all of them.

    Empty when ``old_size`` is 0 or equals the size (nothing to prove)."""
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise TlogError(f"old size {old_size} outside 0..{size}")
    if old_size in (0, size):
        return []
    return _subproof(_list_range_hash(leaf_hashes), old_size, 0, size, whole=True)


def _hashes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place leaf hash ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size or not _hashes_ok(leaf, root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (``old_size``, ``old_root``) a prefix of the new one?

    Edge cases as in transparency-dev/merkle: a shrink is never consistent; equal sizes need
    equal roots and an empty proof; the empty tree is a prefix of anything (empty proof)."""
    if not 0 <= old_size <= new_size:
        return False
    if not _hashes_ok(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    return bool(proof) and _consistent_path(old_size, new_size, old_root, new_root, proof)


def _consistent_path(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 steps 2-7 for ``0 < old_size < new_size`` and a non-empty proof."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a subtree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


@dataclass(slots=True)
class MerkleLog:
    """An append-only list of leaf hashes with its complete subtrees cached.

    ``levels[h][i]`` is the hash of the complete subtree of ``2**h`` leaves starting at leaf
    ``i * 2**h``. Appending costs amortised O(1) hashes; the root at any size costs O(log n)
    and a proof O(log² n) lookups, so 200k leaves (about 400k hashes, a few MB) are cheap.

    :meth:`extend` only stores the leaf hashes: the subtrees above them are hashed, in one pass
    per level, when a root or a proof is next asked for (the checkpointer appends every record
    and asks for roots only at its cadence)."""

    levels: list[list[bytes]] = field(default_factory=lambda: [[]])
    stale: bool = False
    """Leaves were added by :meth:`extend` whose subtrees are not hashed yet."""

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (use :func:`leaf_hash` on the leaf data first)."""
        if len(leaf) != HASH_SIZE:
            raise TlogError("a leaf hash is 32 bytes")
        if self.stale:
            self._settle()
        self.levels[0].append(leaf)
        h = 0
        while len(self.levels[h]) % 2 == 0:
            below = self.levels[h]
            if len(self.levels) == h + 1:
                self.levels.append([])
            self.levels[h + 1].append(node_hash(below[-2], below[-1]))
            h += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Append leaf hashes (32 bytes each), in order; their subtrees are hashed later."""
        if any(len(leaf) != HASH_SIZE for leaf in leaves):
            raise TlogError("a leaf hash is 32 bytes")
        self.levels[0].extend(leaves)
        self.stale = True

    def _settle(self) -> None:
        """Hash the complete subtrees :meth:`extend` left out, level by level."""
        levels, sha256 = self.levels, hashlib.sha256
        h = 0
        while len(levels[h]) >= 2:  # noqa: PLR2004 - a pair makes a node above
            below = levels[h]
            if len(levels) == h + 1:
                levels.append([])
            above = levels[h + 1]
            above.extend(sha256(NODE_PREFIX + below[i] + below[i + 1]).digest()
                         for i in range(2 * len(above), len(below) - 1, 2))
            h += 1
        self.stale = False

    def append_data(self, data: bytes) -> bytes:
        """Append the leaf for ``data``; returns its leaf hash."""
        h = leaf_hash(data)
        self.append(h)
        return h

    def _mth(self, lo: int, hi: int) -> bytes:
        if self.stale:
            self._settle()
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:  # a complete, aligned subtree: cached
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise TlogError(f"size {n} outside 0..{self.size}")
        return n

    def root(self, size: int | None = None) -> bytes:
        """The tree head over the first ``size`` leaves (default: all)."""
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._mth(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        n = self._check_size(size)
        if not 0 <= index < n:
            raise TlogError(f"leaf index {index} outside a tree of size {n}")
        return _path(self._mth, index, 0, n)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        n = self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise TlogError(f"old size {old_size} outside 0..{n}")
        if old_size in (0, n):
            return []
        return _subproof(self._mth, old_size, 0, n, whole=True)

    def leaf(self, index: int) -> bytes:
        return self.levels[0][index]


# --- leaf data ---------------------------------------------------------------------------------


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


# --- signed notes -----------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise TlogError(f"not standard base64: {text!r}") from exc


def _check_key_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise TlogError(f"a key name is non-empty without spaces or '+': {name!r}")


def note_key_id(name: str, public_key: bytes, sig_type: int = SIG_TYPE_ED25519) -> bytes:
    """``SHA-256(name || 0x0A || sig_type || public key)[:4]`` (4 bytes, big-endian id)."""
    _check_key_name(name)
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key)
    return digest.digest()[:4]


def vkey(name: str, public_key: bytes, sig_type: int = SIG_TYPE_ED25519) -> str:
    """The verifier key text ``name+hex(keyid)+base64(type || public key)``."""
    key_id = note_key_id(name, public_key, sig_type).hex()
    return f"{name}+{key_id}+{b64(bytes([sig_type]) + public_key)}"


def parse_vkey(text: str) -> tuple[str, int, bytes]:
    """``(name, signature type, public key)`` of a verifier key; checks its key id."""
    try:
        name, hex_id, material = text.split("+")
        raw = unb64(material)
        key_id_given = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise TlogError(f"not a verifier key: {text!r}") from exc
    if len(raw) < 2 or len(key_id_given) != 4:  # noqa: PLR2004 - type byte + key; 4-byte id
        raise TlogError(f"not a verifier key: {text!r}")
    sig_type, public_key = raw[0], raw[1:]
    if note_key_id(name, public_key, sig_type) != key_id_given:
        raise TlogError("verifier key id does not match its name and key")
    return name, sig_type, public_key


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: ``— <name> base64(key id || signature)``."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_EM_DASH} {self.name} {b64(self.key_id + self.signature)}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Parse one signature line (with or without its final newline)."""
        text = line.removesuffix("\n")
        prefix = _EM_DASH + " "
        if not text.startswith(prefix) or "\n" in text:
            raise TlogError(f"not a note signature line: {line!r}")
        name, sep, sig_b64 = text[len(prefix) :].partition(" ")
        if not sep:
            raise TlogError(f"not a note signature line: {line!r}")
        _check_key_name(name)
        raw = unb64(sig_b64)
        if len(raw) < 5:  # noqa: PLR2004 - 4-byte key id and a signature
            raise TlogError("a note signature is a key id and a signature")
        return cls(name=name, key_id=raw[:4], signature=raw[4:])


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: its text (ending in a newline) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise TlogError("a note text ends in a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):  # noqa: PLR2004 - ASCII controls
        raise TlogError("a note contains no control characters but newline")


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (signatures not verified)."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TlogError("a note is valid UTF-8") from exc
    _check_note_text(note)
    cut = note.rfind("\n\n")
    if cut < 0:
        raise TlogError("a note has a blank line before its signatures")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    lines = sig_block.split("\n")[:-1]  # the block ends in a newline
    if not lines:
        raise TlogError("a note has at least one signature")
    if len(lines) > MAX_SIGNATURES:
        raise TlogError(f"a note with more than {MAX_SIGNATURES} signatures")
    return Note(text=text, signatures=tuple(NoteSignature.parse_line(ln) for ln in lines))


def _ed25519_public(seed: bytes) -> bytes:
    return bytes(SigningKey(seed).verify_key)


def sign_note(text: str, name: str, seed: bytes) -> str:
    """The signed note of ``text`` with one Ed25519 signature (type 0x01) by ``seed``.

    ``seed`` is the 32-byte Ed25519 private key (the organisation's key file seed)."""
    _check_note_text(text)
    sk = SigningKey(seed)
    key_id = note_key_id(name, bytes(sk.verify_key), SIG_TYPE_ED25519)
    sig = sk.sign(text.encode("utf-8")).signature
    return Note(text, (NoteSignature(name, key_id, sig),)).render()


def _verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_note_signature(note: str | Note, name: str, public_key: bytes) -> bool:
    """True when the note carries a valid Ed25519 (0x01) signature by (name, public_key).

    Signatures of other keys are ignored, as the spec asks; a line with this name and key id
    that does not verify makes the answer False."""
    parsed = parse_note(note) if isinstance(note, str) else note
    key_id = note_key_id(name, public_key, SIG_TYPE_ED25519)
    matching = [s for s in parsed.signatures if s.name == name and s.key_id == key_id]
    if not matching:
        return False
    message = parsed.text.encode("utf-8")
    return all(_verify(public_key, message, s.signature) for s in matching)


# --- checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise TlogError("a checkpoint origin is one non-empty line")
        if self.size < 0:
            raise TlogError("a tree size is not negative")
        if len(self.root) != HASH_SIZE:
            raise TlogError("a root hash is 32 bytes")
        if any(not e or "\n" in e for e in self.extensions):
            raise TlogError("an extension line is one non-empty line")

    def body(self) -> str:
        """``origin\\nsize\\nbase64(root)\\n`` followed by the extension lines."""
        lines = [self.origin, str(self.size), b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (a note's text, or a whole note: signatures are dropped)."""
        if "\n\n" in text:
            text = parse_note(text).text
        _check_note_text(text)
        lines = text.split("\n")[:-1]
        if len(lines) < 3:  # noqa: PLR2004 - origin, size, root
            raise TlogError("a checkpoint has origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isascii() or not size_text.isdigit():
            raise TlogError(f"a tree size is a decimal number: {size_text!r}")
        if size_text != str(int(size_text)):
            raise TlogError("a tree size has no leading zeroes")
        return cls(origin, int(size_text), unb64(root_text), tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, seed: bytes, name: str = PLATFORM_KEY_NAME) -> str:
    """The checkpoint as a signed note, signed by ``seed`` under key name ``name``."""
    return sign_note(checkpoint.body(), name, seed)


def open_checkpoint(note: str, name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint of a signed note, after checking the signature of (name, public_key)."""
    parsed = parse_note(note)
    if not verify_note_signature(parsed, name, public_key):
        raise TlogError(f"checkpoint not signed by {name}")
    return Checkpoint.parse(parsed.text)


# --- cosignatures (tlog-cosignature, Ed25519, type 0x04) -----------------------------------------


def cosignature_message(body: str, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint body."""
    _check_note_text(body)
    if not 0 <= timestamp < 1 << 63:
        raise TlogError("a cosignature time is 0..2**63-1")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(checkpoint: Checkpoint | str, name: str, seed: bytes, timestamp: int) -> str:
    """The cosignature line (ending in a newline) of ``name``'s key over the checkpoint.

    Signature bytes: key id (type 0x04) || u64 big-endian ``timestamp`` || Ed25519 signature
    over :func:`cosignature_message`."""
    body = checkpoint.body() if isinstance(checkpoint, Checkpoint) else checkpoint
    sk = SigningKey(seed)
    key_id = note_key_id(name, bytes(sk.verify_key), SIG_TYPE_COSIGNATURE_V1)
    sig = sk.sign(cosignature_message(body, timestamp)).signature
    return NoteSignature(name, key_id, struct.pack(">Q", timestamp) + sig).line()


def cosignature_time(
    checkpoint: Checkpoint | str, line: str, name: str, public_key: bytes
) -> int | None:
    """The timestamp of a valid cosignature line of (name, public_key), else None."""
    body = checkpoint.body() if isinstance(checkpoint, Checkpoint) else checkpoint
    try:
        sig = NoteSignature.parse_line(line)
    except TlogError:
        return None
    if sig.name != name or sig.key_id != note_key_id(name, public_key, SIG_TYPE_COSIGNATURE_V1):
        return None
    if len(sig.signature) != _COSIG_LEN:
        return None
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp >= 1 << 63:
        return None
    message = cosignature_message(body, timestamp)
    return timestamp if _verify(public_key, message, sig.signature[8:]) else None


def verify_cosignature(
    checkpoint: Checkpoint | str, line: str, name: str, public_key: bytes
) -> bool:
    """True when ``line`` is a valid tlog-cosignature/v1 of (name, public_key)."""
    return cosignature_time(checkpoint, line, name, public_key) is not None


def public_key_of(seed: bytes) -> bytes:
    """The 32-byte Ed25519 public key of a 32-byte seed."""
    return _ed25519_public(seed)
