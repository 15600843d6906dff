"""The verification stage every consumer runs first: what a record and the registry alone decide.

Parse, envelope and schema, topic, signature (the key from the registry, valid at the event's
time) and authority. Whatever the bytes, it answers ``Accepted`` or ``Rejected`` and never raises:
garbage, non-UTF-8 or ``None`` header values and missing headers are reasons, not crashes. The
checks that need history (duplicates, per-partition order, the subject's registered party,
corrections) run next, against the store, in ``consumers.history`` and ``consumers.fold``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import structlog

from schemas.authority import decide
from schemas.envelope import Envelope
from schemas.envelope_read import from_record
from schemas.errors import RecordError, SignatureError
from schemas.events.corrections import Correction
from schemas.events.registry import check_correction
from schemas.registry import OrgRecord, Registry
from schemas.timing import TimeBounds, appended_at, time_refusal
from schemas.verify import EnvelopeVerifier
from transport.meta import key_partition

log = structlog.get_logger("consumers.verification")


class Reason(StrEnum):
    """Why a record was rejected: the ``dlq_reason`` header."""

    MALFORMED = "malformed"
    MISSING_HEADER = "missing_header"
    BAD_HEADER = "bad_header"
    BAD_JSON = "bad_json"
    OVERSIZED = "oversized"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA = "schema"
    SUBJECT_MISMATCH = "subject_mismatch"
    KEY_MISMATCH = "key_mismatch"
    WRONG_TOPIC = "wrong_topic"
    UNKNOWN_KEY = "unknown_key"
    SIGNATURE = "signature"
    AUTHORITY = "authority"
    DUPLICATE = "duplicate"
    REPLAY = "replay"
    REORDER = "reorder"
    OWN_SUBJECT = "own_subject"
    PARTY_MISMATCH = "party_mismatch"
    SUBJECT_EXISTS = "subject_exists"
    BAD_CORRECTION = "bad_correction"
    WRONG_PARTITION = "wrong_partition"
    INVALID_TRANSITION = "invalid_transition"
    TIME_SKEW = "time_skew"
    SEQUENCE_GAP = "sequence_gap"
    """Held, not refused: earlier sequences of its source are not on the log yet."""
    FORK = "fork"
    """Held, not refused: two different events of one source claim the same sequence."""
    HASH_CHAIN_BROKEN = "hash_chain_broken"


_REGISTRY_DEPENDENT = frozenset({Reason.UNKNOWN_KEY, Reason.AUTHORITY, Reason.TIME_SKEW})
"""Rejections a registry event still on its way could lift: refresh once, then judge again."""


class RawRecord(Protocol):
    """A consumed record as aiokafka gives it (``ConsumerRecord`` fits)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes | None]]: ...


@dataclass(frozen=True, slots=True)
class Accepted:
    """Passed every check a record and the registry can decide."""

    envelope: Envelope
    family: str
    """The catalogue topic the record's type belongs on (``emining.projects.v1`` ...)."""
    own_only: bool
    """The grant that allowed it covers own subjects: the subject's party must be the emitter."""
    emitter_ids: frozenset[str]
    """The emitting organisation's identifiers (URN and USCC)."""
    provenance: str | None = field(default=None, compare=False, repr=False)
    """The record as the timeline keeps it (``StoredRecord.dumps(value=False)``), when the verify
    worker wrote it: on the worker's core instead of the consumer's (``holding.subjects.apply``)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: Reason
    detail: str
    event_id: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class RefusedEvent(Rejected):
    """Rejected, but its signature verified: the event is its source's, and though refused it
    holds its place in the source's chain (``consumers.holding``)."""

    envelope: Envelope | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, rejected: Rejected, envelope: Envelope) -> RefusedEvent:
        return cls(rejected.reason, rejected.detail, rejected.event_id, rejected.source,
                   envelope)


Verdict = Accepted | Rejected


class RegistrySource(Protocol):
    """The participants registry as read from the log, and a way to catch up with it."""

    @property
    def registry(self) -> Registry: ...

    async def refresh(self, *, force: bool = True) -> bool:
        """Read what was appended since (``force=False``: unless read very recently); True when
        something new was folded in."""
        ...


def _reason(code: str) -> Reason:
    try:
        return Reason(code)
    except ValueError:
        return Reason.MALFORMED


class VerificationStage:
    """Stateless checks of raw records; ``topics`` maps consumed topics to catalogue names."""

    def __init__(
        self, registry: RegistrySource, trust_anchor: Iterable[bytes], topics: Mapping[str, str],
        partitions: Mapping[str, int] | None = None, bounds: TimeBounds | None = None,
    ) -> None:
        self._source = registry
        self._verifier = EnvelopeVerifier(registry.registry, trust_anchor)
        self._topics = dict(topics)
        self._partitions = dict(partitions or {})
        """Partitions per consumed topic: a keyed record must be where its key hashes to."""
        self._bounds = bounds or TimeBounds()
        """How far ``time`` may lie from the broker's append time (``LogAppendTime`` topics)."""

    def check(self, record: RawRecord) -> Verdict:
        try:
            return self._check(record)
        except RecordError as exc:
            return Rejected(_reason(exc.reason), exc.detail)
        except Exception as exc:  # noqa: BLE001 - garbage must become a reason, never a crash
            log.warning("record_unparseable", topic=record.topic, partition=record.partition,
                        offset=record.offset, error=repr(exc)[:300])
            return Rejected(Reason.MALFORMED, f"{type(exc).__name__}: {exc}"[:500])

    async def check_batch(self, records: Sequence[RawRecord]) -> list[Verdict]:
        """Check a batch; an unknown key or a missing authority triggers one registry refresh.

        A key added or an authority granted a moment ago may still be on its way from the
        participants topic: refusing for good before reading it would make the live views differ
        from a rebuild (which sees the registry event first).
        """
        return await self.settle(records, [self.check(r) for r in records])

    async def settle(self, records: Sequence[RawRecord],
                     verdicts: Sequence[Verdict]) -> list[Verdict]:
        """``verdicts`` of ``records`` (checked here or by ``consumers.verify_pool``'s worker),
        those a registry event still on its way could change judged again after one refresh."""
        verdicts = list(verdicts)
        unknown = [i for i, v in enumerate(verdicts)
                   if isinstance(v, Rejected) and v.reason in _REGISTRY_DEPENDENT]
        if unknown and await self._source.refresh():
            for i in unknown:
                verdicts[i] = self.check(records[i])
        return verdicts

    def _misplaced(self, record: RawRecord, env: Envelope) -> Rejected | None:
        """Why ``record`` is not where it belongs: its family's topic, its key's partition."""
        ids = {"event_id": env.id, "source": env.source}
        family = self._topics.get(record.topic)
        if family is None or family != env.data.TOPIC:
            return Rejected(Reason.WRONG_TOPIC, f"{env.type} belongs on {env.data.TOPIC}, "
                            f"not {record.topic}", **ids)
        count = self._partitions.get(record.topic)
        if not count or record.key is None:
            return None
        home = key_partition(record.key, count)
        if home == record.partition:
            return None
        return Rejected(Reason.WRONG_PARTITION, f"key {env.subject} belongs in partition {home} "
                        f"of {record.topic} (murmur2, as Kafka's Java client), not "
                        f"{record.partition}: a subject's events must share one partition to "
                        "keep their order", **ids)

    def _check(self, record: RawRecord) -> Verdict:
        env = from_record(record.key, record.value, tuple(record.headers))
        ids = {"event_id": env.id, "source": env.source}
        misplaced = self._misplaced(record, env)
        registry = self._source.registry
        org = registry.orgs.get(env.org)
        if org is None or env.keyid not in org.keys:
            if misplaced is not None:
                return misplaced
            what = "organisation" if org is None else f"key {env.keyid} of"
            return Rejected(Reason.UNKNOWN_KEY, f"{what} {env.org} is not in the registry", **ids)
        try:
            self._verifier.check_signature(env)
        except SignatureError as exc:
            return misplaced or Rejected(Reason.SIGNATURE, str(exc), **ids)
        if misplaced is not None:  # a copy elsewhere takes no place in its source's chain
            return misplaced
        verdict = self._judge(record, env, org)
        return RefusedEvent.of(verdict, env) if isinstance(verdict, Rejected) else verdict

    def _judge(self, record: RawRecord, env: Envelope, org: OrgRecord) -> Verdict:
        """An authentic event: is it dated honestly, and was its organisation entitled?"""
        ids = {"event_id": env.id, "source": env.source}
        registry = self._source.registry
        stamped = appended_at(getattr(record, "timestamp", None),
                              getattr(record, "timestamp_type", None))
        if stamped is not None:
            skew = time_refusal(registry, env.org, env.time, stamped, self._bounds)
            if skew is not None:
                return Rejected(Reason.TIME_SKEW, skew, **ids)
        decision = decide(registry, env.org, env.data, env.time)
        if not decision.allowed:
            return Rejected(Reason.AUTHORITY, decision.reason, **ids)
        if isinstance(env.data, Correction):
            try:
                check_correction(env.data)
            except RecordError as exc:
                return Rejected(_reason(exc.reason), exc.detail, **ids)
        grant = next(g for g in org.grants
                     if g.grant_id == decision.grant_id and g.valid_at(env.time))
        return Accepted(env, env.data.TOPIC, grant.own_only, org.party_ids)
