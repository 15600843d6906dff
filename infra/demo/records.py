"""The demo's raw records on the log: the attacks sent raw (forged envelopes, replayed
bytes), records found by event id, the topics' end offsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import aclosing

from infra.demo.scenario import Attack, forge
from infra.demo.setup import Deployment
from schemas.envelope import to_record
from schemas.topics import SHARED_TOPICS
from transport.access import KafkaAccess
from transport.clients import make_producer
from transport.read import ends_of, read_to_end


async def inject_attacks(dep: Deployment, attacks: Sequence[Attack], timeout_s: float) -> int:
    """Send each attack raw to its topic: forged envelopes, or a replay's original bytes."""
    wanted = {a.replays for a in attacks if a.replays}
    originals = await find_records(dep.kafka, wanted, timeout_s) if wanted else {}
    producer = make_producer(dep.kafka, timeout_s, enable_idempotence=False)
    await producer.start()
    try:
        for attack in attacks:
            if attack.replays:
                original = originals.get(attack.replays)
                if original is None:
                    raise RuntimeError(f"{attack.name}: record {attack.replays} not on the log")
                topic, key, value, headers = original
            else:
                record = to_record(forge(attack, dep.keys))
                topic, key, value, headers = (record.topic, record.key, record.value,
                                              record.headers)
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()
    return len(attacks)


RawRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


async def find_records(kafka: KafkaAccess, event_ids: set[str], timeout_s: float
                       ) -> dict[str, RawRecord]:
    """The records (first occurrence) carrying these ``ce_id``s, searched on the shared topics."""
    found: dict[str, RawRecord] = {}
    async with aclosing(read_to_end(kafka, SHARED_TOPICS, timeout_s=timeout_s,
                                    missing="skip")) as batches:
        async for batch in batches:
            for rec in batch:
                ce_id = (dict(rec.headers).get("ce_id") or b"").decode()
                if ce_id in event_ids and ce_id not in found:
                    found[ce_id] = (rec.topic, rec.key, rec.value,
                                    [(k, v) for k, v in rec.headers])
            if len(found) >= len(event_ids):
                break
    return found


async def end_offsets(kafka: KafkaAccess, topics: Sequence[str], timeout_s: float
                      ) -> dict[str, dict[int, int]]:
    """``{topic: {partition: end offset}}`` of ``topics`` (those that exist)."""
    out: dict[str, dict[int, int]] = {}
    for tp, offset in (await ends_of(kafka, topics, timeout_s=timeout_s, missing="skip")).items():
        out.setdefault(tp.topic, {})[tp.partition] = offset
    return out
