"""C2SP signed notes, checkpoints and Ed25519 cosignatures.

**Signed notes** (c2sp.org/signed-note), **checkpoints** (c2sp.org/tlog-checkpoint) and
**Ed25519 cosignatures** (c2sp.org/tlog-cosignature, signature type ``0x04``). The platform
signs its checkpoints with the key name ``emining-platform`` (:data:`PLATFORM_KEY_NAME`).
Pure: ``hashlib``, ``struct``, ``base64`` and Ed25519 (PyNaCl); no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from schemas.tlog.errors import TlogError
from schemas.tlog.merkle import HASH_SIZE

PLATFORM_KEY_NAME = "emining-platform"
"""The note key name of the platform's checkpoint signatures."""

SIG_TYPE_ED25519 = 0x01
"""signed-note signature type of plain Ed25519 note signatures (the log's own)."""
SIG_TYPE_COSIGNATURE_V1 = 0x04
"""signed-note signature type of timestamped Ed25519 checkpoint cosignatures."""

MAX_SIGNATURES = 100
"""A note with more signature lines than this is rejected (the spec asks for at least 16)."""

_EM_DASH = "\u2014"
_COSIG_LEN = 8 + 64
"""A cosignature's bytes after the key id: u64 time and an Ed25519 signature."""


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
