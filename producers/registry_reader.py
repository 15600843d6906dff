"""Read the participants registry from its topic, trusting only the trust anchor's signatures."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing

import structlog

from schemas.envelope_read import from_record
from schemas.errors import ContractError, EminingError
from schemas.registry import Registry
from schemas.topics import PARTICIPANTS
from schemas.verify import EnvelopeVerifier
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaConnectionError, KafkaError
from transport.meta import connection_problem
from transport.read import read_to_end

log = structlog.get_logger("producers.registry_reader")


class RegistryUnavailableError(EminingError):
    """The participants registry cannot be read from its topic (broker down or refusing, topic
    missing), or was never read: nothing can be checked against it. The gateway and the view
    consumers' registry follower both raise it."""


async def _unreadable(
    exc: BaseException, kafka: KafkaAccess, topic: str, timeout_s: float
) -> ContractError:
    """Why the registry could not be read: the broker's refusal or a failed login, if either."""
    reason = refusal(exc, kafka, f"READ of {topic}")
    if reason is None and isinstance(exc, KafkaConnectionError):
        reason = await connection_problem(kafka, timeout_s)
    if reason is not None:
        return ContractError(f"cannot read the registry: {reason}")
    return ContractError(f"cannot read the registry from {kafka.bootstrap}: {exc!r}")


async def read_registry(
    kafka: KafkaAccess,
    trust_anchor: Iterable[bytes],
    *,
    timeout_s: float = 15.0,
    topic: str = PARTICIPANTS,
) -> Registry:
    """Fold ``topic`` from offset 0 to its current end into a ``Registry``.

    A record that is malformed or not signed by a trust-anchor key is skipped and logged: the
    registry is what the operator signed, nothing else. (The audit lists such records.)
    """
    registry = Registry()
    skipped = 0
    verifier = EnvelopeVerifier(registry, trust_anchor)
    try:
        async with aclosing(read_to_end(kafka, [topic], timeout_s=timeout_s)) as batches:
            async for batch in batches:
                for rec in batch:
                    try:
                        env = from_record(rec.key, rec.value, rec.headers)
                        verifier.check_signature(env)
                        registry.apply(env.data, env.time)
                    except ContractError as exc:
                        skipped += 1
                        log.debug("registry_record_skipped", partition=rec.partition,
                                  offset=rec.offset, reason=str(exc))
    except (KafkaError, OSError, TimeoutError) as exc:
        raise await _unreadable(exc, kafka, topic, timeout_s) from exc
    if skipped:
        # Other trust anchors (another deployment sharing the broker) or tampering: the audit
        # lists each one; here one line says how many were not taken into the registry.
        log.warning("registry_records_skipped", count=skipped, topic=topic)
    return registry
