"""Signature and authority checks of one envelope against the registry, shared by every reader."""

from __future__ import annotations

from collections.abc import Iterable

from schemas.authority import decide
from schemas.envelope import Envelope
from schemas.errors import AuthorityError, SignatureError
from schemas.registry import Registry
from schemas.signing import Verifier
from schemas.topics import PARTICIPANTS


class EnvelopeVerifier:
    """Verifies envelopes; registry events only with a trust-anchor key, others via the registry.

    Holds one libsodium verify key per key id, so a steady stream costs one Ed25519 check each.
    """

    def __init__(self, registry: Registry, trust_anchor: Iterable[bytes]) -> None:
        self.registry = registry
        self._anchors = {v.keyid: v for v in (Verifier(raw) for raw in trust_anchor)}
        self._verifiers: dict[str, Verifier] = {}

    def check_signature(self, envelope: Envelope) -> None:
        if envelope.topic == PARTICIPANTS:
            verifier = self._anchors.get(envelope.keyid)
            if verifier is None:
                raise SignatureError(
                    f"registry event signed with {envelope.keyid}, which is not a trust-anchor key"
                )
        else:
            key = self.registry.key_for(envelope.org, envelope.keyid, envelope.time)
            verifier = self._verifiers.get(key.keyid)
            if verifier is None:
                verifier = self._verifiers[key.keyid] = Verifier(key.public_key)
        verifier.verify(envelope.signing_input(), envelope.signature)

    def check_authority(self, envelope: Envelope) -> None:
        if envelope.topic == PARTICIPANTS:
            return  # the trust anchor's signature is the registry's authority
        decision = decide(self.registry, envelope.org, envelope.data, envelope.time)
        if not decision.allowed:
            raise AuthorityError(decision.reason)

    def check(self, envelope: Envelope) -> None:
        """Signature first (who said it), then authority (were they entitled to)."""
        self.check_signature(envelope)
        self.check_authority(envelope)
