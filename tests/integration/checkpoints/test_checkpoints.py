"""Checkpoints and witnesses on the real broker: heads recomputed independently, consistency
proofs between increments, cosignatures of a Pakistani and a Chinese witness, and refusals of a
forged checkpoint, a fork, a shrink and a rewritten history that reach both sides as alerts."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from consumers.checkpoints.checkpointer import leaf_of
from schemas.alerts import PLATFORM_ORG, AlertRule
from schemas.checkpoints import (
    CheckpointRecord,
    CosignatureRecord,
    RefusalRecord,
    verify_cosignature_record,
    witness_key_name,
)
from schemas.signing import PrivateKey
from schemas.tlog import (
    PLATFORM_KEY_NAME,
    Checkpoint,
    leaf_hash,
    merkle_root,
    open_checkpoint,
    origin_for,
    sign_checkpoint,
    verify_consistency,
)
from tests.integration.checkpoints.conftest import World, read_all


async def independent_heads(world: World) -> dict[str, tuple[int, bytes]]:
    """Each partition's (size, root) from the data topics, with the plain list functions."""
    leaves: dict[str, list[bytes]] = defaultdict(list)
    for topic in world.data:
        for rec in sorted(await read_all(world.kafka, topic),
                          key=lambda r: (r.partition, r.offset)):
            leaves[origin_for(rec.topic, rec.partition)].append(leaf_hash(leaf_of(rec)))
    return {o: (len(h), merkle_root(h)) for o, h in leaves.items()}


async def checkpoints_of(world: World) -> list[tuple[str, CheckpointRecord, Checkpoint]]:
    out = []
    for rec in await read_all(world.kafka, world.checkpoints):
        cr = CheckpointRecord.from_value(rec.value)
        cp = open_checkpoint(cr.note, PLATFORM_KEY_NAME, world.platform.public_key)
        assert rec.key == cp.origin.encode()
        out.append((cp.origin, cr, cp))
    return out


async def test_checkpointer_publishes_correct_heads_then_consistent_increments(
    world: World,
) -> None:
    a, b = world.data
    await world.produce(a, 7, partition=0)
    await world.produce(a, 3, partition=2)
    await world.produce(b, 12)
    await world.checkpointer().run(once=True)

    first = await checkpoints_of(world)
    expected = await independent_heads(world)
    assert {o: (cp.size, cp.root) for o, _, cp in first} == expected
    assert set(expected) == {origin_for(a, 0), origin_for(a, 2), origin_for(b, 0)}
    assert expected[origin_for(b, 0)][0] == 12
    assert all(cr.previous_size is None and not cr.consistency for _, cr, _ in first)

    # more records on two partitions; a fresh checkpointer (a restart) reads its last heads
    await world.produce(a, 5, partition=0, tag="s")
    await world.produce(b, 9, tag="s")
    await world.checkpointer().run(once=True)
    later = (await checkpoints_of(world))[len(first):]
    assert sorted(o for o, _, _ in later) == sorted([origin_for(a, 0), origin_for(b, 0)])
    old = {o: cp for o, _, cp in first}
    expected = await independent_heads(world)
    for origin, cr, cp in later:
        assert (cp.size, cp.root) == expected[origin]
        assert cr.previous_size == old[origin].size
        assert verify_consistency(old[origin].size, cp.size, old[origin].root, cp.root,
                                  cr.consistency)
        # the proof proves exactly this: not against another old root
        assert not verify_consistency(old[origin].size, cp.size, cp.root, cp.root,
                                      cr.consistency)

    # nothing new: a third run publishes nothing
    await world.checkpointer().run(once=True)
    assert len(await checkpoints_of(world)) == len(first) + len(later)


async def test_two_witnesses_cosign_and_the_cosignatures_verify(world: World) -> None:
    a, b = world.data
    await world.produce(a, 4, partition=1)
    await world.produce(b, 6)
    await world.checkpointer().run(once=True)
    for key in (world.pk, world.cn):
        await world.witness(key).run(once=True)
    await world.produce(b, 3, tag="s")
    await world.checkpointer().run(once=True)
    for key in (world.pk, world.cn):
        await world.witness(key).run(once=True)  # restarted: from its saved position

    heads = {(o, cp.size): cp.root for o, _, cp in await checkpoints_of(world)}
    assert len(heads) == 3
    cosigs = [CosignatureRecord.from_value(r.value)
              for r in await read_all(world.kafka, world.cosignatures)]
    by_witness: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for c in cosigs:
        assert heads[(c.origin, c.size)] == c.root
        keys = [k.public_key for k in world.registry.orgs[c.witness].keys.values()]
        assert c.key_name == witness_key_name(c.witness)
        assert verify_cosignature_record(c, keys) is not None
        other = world.cn if c.witness == world.pk.org else world.pk
        assert verify_cosignature_record(c, [other.public_key]) is None
        by_witness[c.witness].add((c.origin, c.size))
    assert by_witness == {world.pk.org: set(heads), world.cn.org: set(heads)}
    assert len(cosigs) == 6

    # the Pakistani witness's line under the Chinese witness's name: not the Chinese org's
    mine = next(c for c in cosigs if c.witness == world.pk.org)
    claimed = CosignatureRecord(mine.origin, mine.size, mine.root, world.cn.org,
                                witness_key_name(world.cn.org), mine.line)
    cn_keys = [k.public_key for k in world.registry.orgs[world.cn.org].keys.values()]
    assert verify_cosignature_record(claimed, cn_keys) is None
    renamed = CosignatureRecord(mine.origin, mine.size, mine.root, world.cn.org,
                                witness_key_name(world.pk.org), mine.line)
    assert verify_cosignature_record(renamed, cn_keys) is None
    assert verify_cosignature_record(renamed, [world.pk.public_key]) is None  # name mismatch


async def _publish_checkpoint(world: World, key: PrivateKey, cp: Checkpoint,
                              previous: int | None, proof: tuple[bytes, ...] = ()) -> None:
    note = sign_checkpoint(cp, key.seed)
    value = CheckpointRecord(note, 1_700_000_000, previous, proof).to_value()
    await world.producer.send_and_wait(world.checkpoints, value, key=cp.origin.encode())


async def test_forgery_fork_shrink_and_rewrite_are_refused_and_alert_both_sides(
    world: World,
) -> None:
    a, _ = world.data
    origin = origin_for(a, 0)
    await world.produce(a, 6, partition=0)
    await world.checkpointer().run(once=True)
    for key in (world.pk, world.cn):
        await world.witness(key).run(once=True)
    [(_, _, good)] = [c for c in await checkpoints_of(world) if c[0] == origin]
    cosigned_before = len(await read_all(world.kafka, world.cosignatures))

    stranger = PrivateKey.generate(PLATFORM_ORG)
    other_root = bytes(32)
    await _publish_checkpoint(world, stranger, Checkpoint(origin, 9, other_root), 6)  # forged
    await _publish_checkpoint(world, world.platform, Checkpoint(origin, 6, other_root), None)
    await _publish_checkpoint(world, world.platform, Checkpoint(origin, 4, other_root), None)
    await _publish_checkpoint(world, world.platform, Checkpoint(origin, 8, other_root), 6,
                              (good.root,))  # a bogus proof: history rewritten
    for key in (world.pk, world.cn):
        await world.witness(key).run(once=True)

    assert len(await read_all(world.kafka, world.cosignatures)) == cosigned_before
    refusals = [RefusalRecord.from_value(r.value)
                for r in await read_all(world.kafka, world.refusals)]
    kinds = defaultdict(list)
    for r in refusals:
        keys = [k.public_key for k in world.registry.orgs[r.refusal.witness].keys.values()]
        assert r.verify(keys)
        assert r.refusal.origin == origin
        kinds[r.refusal.witness].append(r.refusal.kind.value)
    assert kinds == {w: ["bad_signature", "fork", "shrink", "bad_proof"]
                     for w in (world.pk.org, world.cn.org)}

    # the witness state survived: a restarted witness still refuses another root at size 6
    # and keeps the good head it cosigned
    restarted = world.witness(world.pk)
    assert restarted.state.heads[origin] == (6, good.root)
    await _publish_checkpoint(world, world.platform, Checkpoint(origin, 6, b"\x01" * 32), None)
    await restarted.run(once=True)
    assert restarted.cosigned == 0
    assert restarted.state.heads[origin] == (6, good.root)

    # the platform relays the refusals: alerts to itself and to both sides; at most one per
    # witness, origin and kind an hour (the restarted witness's second fork is counted only)
    relayed = await world.checkpointer().relay_refusals()
    assert relayed == 8
    for org in (PLATFORM_ORG, world.pk.org, world.cn.org):
        alerts = await world.alerts_of(org)
        assert len(alerts) == 8, org
        assert {a.rule for a in alerts} == {AlertRule.SECURITY_REJECTION}
        assert {a.details["reason"] for a in alerts} == {
            "bad_signature", "fork", "shrink", "bad_proof"}
        assert all(a.about == origin and a.severity.value == "critical" for a in alerts)
    # relaying again raises nothing new (deterministic alert ids)
    await world.checkpointer().relay_refusals()
    assert len(await world.alerts_of(world.cn.org)) == 8


async def test_a_recreated_shorter_topic_halts_its_log_and_raises_the_alarm(
    world: World,
) -> None:
    _, b = world.data
    origin = origin_for(b, 0)
    await world.produce(b, 8)
    await world.checkpointer().run(once=True)
    before = await checkpoints_of(world)
    assert [(o, cp.size) for o, _, cp in before] == [(origin, 8)]

    admin = AIOKafkaAdminClient(**world.kafka.aiokafka(), request_timeout_ms=15_000)
    await admin.start()
    try:
        await admin.delete_topics([b])
        for _ in range(100):  # deletion is asynchronous
            response = await admin.create_topics([NewTopic(b, 1, 1)])
            if not any(e["error_code"] for e in response.to_object()["topic_errors"]):
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    await world.produce(b, 3, tag="again")  # fewer records than the checkpoint signed

    worker = world.checkpointer()
    await worker.run(once=True)
    assert origin in worker.halted
    assert await checkpoints_of(world) == before  # no head for the shrunk log
    for org in (PLATFORM_ORG, world.pk.org, world.cn.org):
        alerts = await world.alerts_of(org)
        assert [a.details["reason"] for a in alerts] == ["shrink"], org
        assert alerts[0].details["size"] == "3"
        assert alerts[0].details["last_size"] == "8"
        assert json.loads(alerts[0].model_dump_json())["cause"]["kind"] == "rejection"


async def test_live_checkpointer_publishes_as_records_arrive(world: World) -> None:
    a, _ = world.data
    await world.produce(a, 2, partition=1)
    stop = asyncio.Event()
    worker = world.checkpointer(every_seconds=0.5, every_records=1000)
    task = asyncio.create_task(worker.run(stop=stop))
    try:
        origin = origin_for(a, 1)
        for expected in (2, 5):
            if expected == 5:
                await world.produce(a, 3, partition=1, tag="live")
            for _ in range(100):
                sizes = [cp.size for o, _, cp in await checkpoints_of(world) if o == origin]
                if sizes and sizes[-1] == expected:
                    break
                await asyncio.sleep(0.2)
            assert sizes[-1] == expected
        records = [cr for o, cr, _ in await checkpoints_of(world) if o == origin]
        assert [cr.previous_size for cr in records] == [None, 2]
        assert (await independent_heads(world))[origin][0] == 5
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
