"""Reading the checkpoint and cosignature topics for the audit (``verify`` and ``prove``)."""

from __future__ import annotations

from contextlib import aclosing

from consumers.audit.cosigned import Judged, read_checkpoints
from consumers.audit.leaves import Wanted
from consumers.audit.records import AuditError, AuditTopics, RawRecord
from consumers.audit.snapshot import LogReader
from schemas.registry import Registry
from transport.access import KafkaAccess, refusal
from transport.kafka import KafkaError
from transport.read import read_to_end, topic_partitions


async def read_topic(kafka: KafkaAccess, topic: str, *, timeout_s: float,
                     reader: LogReader | None = None) -> list[RawRecord] | None:
    """Every record of ``topic`` up to its end now (with ``reader``'s consumer if given);
    ``None`` when the topic does not exist."""
    try:
        if not await topic_partitions(kafka, [topic], timeout_s=timeout_s, missing="skip"):
            return None
        out: list[RawRecord] = []
        if reader is not None:
            snapshot = await reader.snapshot([topic])
            async for batch in reader.read(snapshot, [topic]):
                out += batch
            return out
        async with aclosing(read_to_end(kafka, [topic], timeout_s=timeout_s)) as batches:
            async for batch in batches:
                out += [RawRecord(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value,
                                  tuple(r.headers), r.timestamp_type) for r in batch]
    except (KafkaError, OSError, TimeoutError) as exc:
        refused = refusal(exc, kafka, f"READ of {topic}")
        raise AuditError(f"reading {topic} failed on {kafka.bootstrap}: "
                         f"{refused or repr(exc) or 'timed out'}") from exc
    return out


async def read_judged(kafka: KafkaAccess, topics: AuditTopics, anchors: list[bytes],
                      registry: Registry | None, wanted: Wanted | None, *, timeout_s: float,
                      reader: LogReader | None = None) -> Judged | None:
    """The checkpoints and cosignatures of the origins ``wanted`` accepts, verified; ``None``
    when there is no checkpoints topic."""
    checkpoints = await read_topic(kafka, topics.checkpoints, timeout_s=timeout_s, reader=reader)
    if checkpoints is None:
        return None
    cosignatures = await read_topic(kafka, topics.cosignatures, timeout_s=timeout_s,
                                    reader=reader) or []
    refusals = await read_topic(kafka, topics.refusals, timeout_s=timeout_s, reader=reader) or []
    return read_checkpoints(checkpoints, cosignatures, anchors, registry, wanted, refusals)
