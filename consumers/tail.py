"""``emining tail``: any topic the caller may read, each record with its signature verified.

A record is judged by what the record and the registry alone decide, with the code every
consumer uses: a shared topic's records by the verification stage (``VerificationStage``:
envelope, schema, topic, partition, signature with the key valid at the event's time, time
skew, authority); the registry's records by the trust anchor (``EnvelopeVerifier``); an alerts
topic's by the platform's signature (``AlertVerifier``); a dead letter as the record it was
at its origin (and with the reason the consumer refused it). What needs history (duplicates,
order, chains, lifecycles) is the views' and the audit's job, not a tail's.

The caller reads with its own Kafka credential and no consumer group (nothing is committed).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from consumers.alerts.reader import AlertVerifier
from consumers.registry_follower import RegistryFollower
from consumers.verification import Accepted, Rejected, VerificationStage
from schemas.alerts import AlertRaised
from schemas.envelope import Envelope
from schemas.envelope_read import from_record
from schemas.errors import ContractError, EminingError, RecordError
from schemas.timing import TimeBounds
from schemas.topics import ALERTS_PREFIX, DLQ, PARTICIPANTS, SHARED_TOPICS, alerts_topic
from schemas.verify import EnvelopeVerifier
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaConnectionError, KafkaError
from transport.meta import connection_problem, partition_counts, partitions_of
from transport.read import follow

OK = "ok"


class TailError(EminingError):
    """The topic cannot be read by this caller."""


@dataclass(frozen=True, slots=True)
class Tailed:
    """One record and its verdict: ``ok`` or the reason it would be refused."""

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: bytes | None
    verdict: str
    detail: str | None = None
    envelope: Envelope | None = None
    dead_letter: dict[str, str] = field(default_factory=dict)
    """A DLQ record's ``dlq_*`` headers (why a consumer refused it, and where it was)."""
    size: int = 0

    def as_json(self) -> dict[str, Any]:
        env = self.envelope
        return {
            "topic": self.topic, "partition": self.partition, "offset": self.offset,
            "timestamp": _iso(self.timestamp), "key": _text(self.key),
            "verdict": self.verdict, "detail": self.detail,
            "event": None if env is None else {
                "id": env.id, "type": env.type, "source": env.source, "org": env.org,
                "subject": env.subject, "time": env.attributes["time"],
                "sequence": env.sequence, "keyid": env.keyid, "data": env.data_json,
            },
            **({"dead_letter": self.dead_letter} if self.dead_letter else {}),
        }

    def line(self) -> str:
        env = self.envelope
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        what = (f"{env.attributes['time']}  {env.type}  {env.subject}  {env.org}"
                if env is not None else f"{_iso(self.timestamp) or '-'}  ({self.size} bytes)")
        verdict = self.verdict if self.verdict == OK else f"REFUSED {self.verdict}: {self.detail}"
        dead = (f"  [dead letter: {self.dead_letter.get('dlq_reason')} from "
                f"{self.dead_letter.get('dlq_topic')}[{self.dead_letter.get('dlq_partition')}]"
                f"@{self.dead_letter.get('dlq_offset')}]" if self.dead_letter else "")
        return f"{where}  {what}  {verdict}{dead}"


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(raw).decode()


def _header(headers: Iterable[tuple[str, bytes | None]], name: str) -> str | None:
    for key, value in headers:
        if key == name and value is not None:
            return value.decode(errors="replace")
    return None


@dataclass(frozen=True, slots=True)
class _AsRead:
    """A dead letter as the record it was at its origin (topic, partition, offset)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]
    timestamp: int | None
    timestamp_type: int | None


class Judge:
    """The verdict on one record of any topic, by the consumers' own checks."""

    def __init__(self, follower: RegistryFollower, trust_anchor: Sequence[bytes],
                 partitions: Mapping[str, int], bounds: TimeBounds, platform: str) -> None:
        self._follower = follower
        self._stage = VerificationStage(follower, trust_anchor, {t: t for t in SHARED_TOPICS},
                                        partitions, bounds)
        self._registry_verifier = EnvelopeVerifier(follower.registry, trust_anchor)
        self._alerts = AlertVerifier(trust_anchor, platform)

    async def judge(self, records: Sequence[Any]) -> list[Tailed]:
        await self._follower.refresh(force=False)
        shared = [r for r in (self._origin(r) for r in records) if r.topic in SHARED_TOPICS]
        verdicts = dict(zip((id(r) for r in shared), await self._stage.check_batch(shared),
                            strict=True))
        out = []
        for record in records:
            origin = self._origin(record)
            dead = ({k: v.decode(errors="replace") for k, v in record.headers
                     if k.startswith("dlq_") and v is not None}
                    if record.topic == DLQ else {})
            verdict = verdicts.get(id(origin)) if origin.topic in SHARED_TOPICS else None
            out.append(self._tailed(record, origin, verdict, dead))
        return out

    def _origin(self, record: Any) -> Any:
        if record.topic != DLQ:
            return record
        topic = _header(record.headers, "dlq_topic")
        try:
            partition = int(_header(record.headers, "dlq_partition") or "")
            offset = int(_header(record.headers, "dlq_offset") or "")
        except ValueError:
            return record
        if topic is None:
            return record
        return _AsRead(topic, partition, offset, record.key, record.value,
                       record.headers, None, None)

    def _tailed(self, record: Any, origin: Any, verdict: Accepted | Rejected | None,
                dead: dict[str, str]) -> Tailed:
        base = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                "timestamp": record.timestamp, "key": record.key, "dead_letter": dead,
                "size": len(record.value or b"")}
        if isinstance(verdict, Accepted):
            return Tailed(**base, verdict=OK, envelope=verdict.envelope)
        envelope = _envelope(origin)
        if isinstance(verdict, Rejected):
            return Tailed(**base, verdict=verdict.reason.value, detail=verdict.detail,
                          envelope=envelope)
        try:
            if origin.topic.startswith(ALERTS_PREFIX):
                self._check_alert(origin)
            else:
                self._check_envelope(origin)
        except RecordError as exc:
            return Tailed(**base, verdict=exc.reason, detail=exc.detail, envelope=envelope)
        except ContractError as exc:
            return Tailed(**base, verdict="signature", detail=str(exc), envelope=envelope)
        return Tailed(**base, verdict=OK, envelope=envelope)

    def _check_envelope(self, record: Any) -> None:
        """The registry's records (trust anchor) and any other topic's (the registry's keys)."""
        env = from_record(record.key, record.value, tuple(record.headers))
        if record.topic == PARTICIPANTS and env.topic != PARTICIPANTS:
            raise RecordError("wrong_topic", f"{env.type} belongs on {env.topic}, "
                              f"not {record.topic}")
        self._registry_verifier.check_signature(env)

    def _check_alert(self, record: Any) -> None:
        env = from_record(record.key, record.value, tuple(record.headers))
        if not isinstance(env.data, AlertRaised):
            raise RecordError("wrong_topic", f"{env.type} is not an alert")
        recipient = env.data.recipient
        if alerts_topic(recipient) != record.topic:
            raise RecordError("wrong_topic", f"an alert for {recipient} on {record.topic}")
        self._alerts.check(record.key, record.value, record.headers, recipient)


def _envelope(record: Any) -> Envelope | None:
    try:
        return from_record(record.key, record.value, tuple(record.headers))
    except Exception:  # noqa: BLE001 - garbage has no envelope to show
        return None


async def tail_topic(
    kafka: KafkaAccess, topic: str, trust_anchor: Sequence[bytes], *, platform: str,
    from_beginning: bool = False, until_end: bool = False,
    participants: str = PARTICIPANTS, bounds: TimeBounds | None = None,
    timeout_s: float = 15.0,
) -> AsyncGenerator[Tailed, None]:
    """Every record of ``topic`` from its end (or its beginning), judged, until the caller
    stops iterating (or, with ``until_end``, once the end seen at the start is reached)."""
    try:
        parts = await partitions_of(kafka, topic, timeout_s=timeout_s)
    except (KafkaConnectionError, TimeoutError, OSError) as exc:
        reason = (await connection_problem(kafka, timeout_s)
                  if isinstance(exc, KafkaConnectionError) else None)
        raise TailError(reason or f"no Kafka broker answered at {kafka.bootstrap} (waited up "
                        f"to {timeout_s:.0f}s): is it up? (EMINING_KAFKA_BOOTSTRAP)") from exc
    if not parts:
        raise TailError(f"topic {topic} does not exist, or {kafka.principal} may not see it "
                        "(no ACL allows it)")
    counts = await partition_counts(kafka, list(SHARED_TOPICS), timeout_s=timeout_s)
    async with RegistryFollower(kafka, trust_anchor, topic=participants,
                                timeout_s=timeout_s) as follower:
        judge = Judge(follower, trust_anchor, counts, bounds or TimeBounds(), platform)
        try:
            async with aclosing(follow(kafka, [topic], from_beginning=from_beginning,
                                       until_end=until_end, timeout_s=timeout_s,
                                       fetch_ms=500)) as batches:
                async for records in batches:
                    for _, group in groupby(records, key=lambda r: r.partition):
                        for tailed in await judge.judge(list(group)):
                            yield tailed
        except (KafkaError, TimeoutError) as exc:
            reason = refusal(exc, kafka, f"READ of {topic}")
            raise TailError(reason or f"cannot read {topic}: {exc!r}") from exc
