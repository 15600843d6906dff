"""The project's error tree: one root, one subclass per thing that can be wrong."""

from __future__ import annotations


class EminingError(Exception):
    """Root of every error this project raises on purpose."""


class ContractError(EminingError):
    """An event or record does not meet the contract (schema, envelope, signature, authority)."""


class RecordError(ContractError):
    """A Kafka record cannot be read as one of our events; the message names what is wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SignatureError(ContractError):
    """A signature is missing, malformed, or does not verify with the named key."""


class AuthorityError(ContractError):
    """An organisation emitted an event outside its authority."""


class ChainError(ContractError):
    """A source's sequence or hash chain is broken: a gap, a reorder, a replay or a rewrite."""
