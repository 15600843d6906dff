"""Ed25519 keys, signatures over the canonical event form, and event hashes for chains."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nacl.bindings import crypto_sign, crypto_sign_BYTES, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from schemas.canonical import canonical_json
from schemas.errors import SignatureError
from schemas.patterns import IdPattern

GENESIS_HASH = "0" * 64
"""``prevhash`` of a source's first event."""


def key_id(public_key: bytes) -> str:
    """A key's id: the first 16 hex digits of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


KEY_ID = IdPattern("[0-9a-f]{16}")
"""What ``key_id`` writes: 16 lowercase hex digits (the envelope's ``keyid``, the registry's)."""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unb64(text: str, *, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """An organisation's signing key; ``org`` is the organisation it signs for."""

    org: str
    seed: bytes
    public_key: bytes = field(init=False, repr=False, compare=False)
    """Derived once from the seed (deriving costs ~45 µs)."""
    keyid: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        public = bytes(SigningKey(self.seed).verify_key)
        object.__setattr__(self, "public_key", public)
        object.__setattr__(self, "keyid", key_id(public))

    @classmethod
    def generate(cls, org: str) -> PrivateKey:
        return cls(org=org, seed=bytes(SigningKey.generate()))

    def signer(self) -> Signer:
        return Signer(self.keyid, SigningKey(self.seed))

    def to_json(self) -> str:
        """The key file: JSON with the seed and, for convenience, the public half."""
        return json.dumps(
            {
                "org": self.org,
                "keyid": self.keyid,
                "algorithm": "Ed25519",
                "private_key": b64(self.seed),
                "public_key": b64(self.public_key),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> PrivateKey:
        try:
            doc = json.loads(text)
            org, seed = str(doc["org"]), unb64(doc["private_key"], what="private_key")
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureError(f"not an E-Mining key file: {exc}") from exc
        if len(seed) != 32:  # noqa: PLR2004 - Ed25519 seeds are 32 bytes
            raise SignatureError("private_key must be a 32-byte Ed25519 seed")
        key = cls(org=org, seed=seed)
        if "keyid" in doc and doc["keyid"] != key.keyid:
            raise SignatureError("key file's keyid does not match its private key")
        return key


class Signer:
    """Signs canonical bytes; holds libsodium's expanded secret key, so each signature costs
    ~20 µs: the call ``SigningKey.sign`` makes (``crypto_sign``, the signature being the first
    64 bytes of its output), without building a ``SignedMessage`` around it."""

    __slots__ = ("_secret", "keyid")

    def __init__(self, keyid: str, key: SigningKey) -> None:
        self.keyid = keyid
        self._secret = crypto_sign_seed_keypair(bytes(key))[1]

    def sign(self, message: bytes) -> str:
        return b64(crypto_sign(message, self._secret)[:crypto_sign_BYTES])


class Verifier:
    """Verifies signatures for one public key."""

    __slots__ = ("_key", "keyid")

    def __init__(self, public_key: bytes) -> None:
        if len(public_key) != 32:  # noqa: PLR2004 - Ed25519 public keys are 32 bytes
            raise SignatureError("an Ed25519 public key is 32 bytes")
        self._key = VerifyKey(public_key)
        self.keyid = key_id(public_key)

    def verify(self, message: bytes, signature: str) -> None:
        raw = unb64(signature, what="signature")
        if len(raw) != 64:  # noqa: PLR2004 - Ed25519 signatures are 64 bytes
            raise SignatureError("signature is not 64 bytes")
        try:
            self._key.verify(message, raw)
        except BadSignatureError as exc:
            raise SignatureError(f"signature does not verify with key {self.keyid}") from exc


def signing_input(attributes: dict[str, str], data: Any, *, plain: bool | None = None) -> bytes:
    """The signed bytes: JCS of every attribute except ``signature``, plus ``data``.

    ``plain``: ``is_plain(data)`` if the caller knows it (attribute values are strings, so the
    whole document is plain exactly when the data is).
    """
    doc: dict[str, Any] = {k: v for k, v in attributes.items() if k != "signature"}
    doc["data"] = data
    return canonical_json(doc, plain=plain)


def event_hash(attributes: dict[str, str], data: Any, *, plain: bool | None = None) -> str:
    """SHA-256 (hex) of JCS of all attributes *including* the signature, plus ``data``.

    The next event of the same source carries it as ``prevhash``: rewriting any earlier event,
    even re-signing it with another key, breaks every link after it.
    """
    doc: dict[str, Any] = dict(attributes)
    doc["data"] = data
    return hashlib.sha256(canonical_json(doc, plain=plain)).hexdigest()
