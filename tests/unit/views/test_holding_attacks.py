"""What one organisation must not achieve against the chain stage (``consumers.holding``).

Each case was found by an adversarial review: a record held for its own source's sake must not
freeze another party's subject; a copy of someone's record must not quarantine their source; an
event id used at two places must give one digest in any read order.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from consumers.digest import digest
from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.store import ViewStore
from consumers.sync import ViewSync
from consumers.verification import VerificationStage
from schemas.envelope import Envelope, seal, to_record
from schemas.signing import GENESIS_HASH
from schemas.topics import APPROVALS, PROJECTS, SHIPMENTS
from tests.integration.views import scenario
from tests.unit.views.harness import (
    OPERATOR_KEY,
    PARTITIONS,
    Record,
    StaticRegistry,
    WholeLogControl,
    stage_for,
)
from transport.meta import key_partition

STEPS = [s for r in scenario.build(2).rounds() for s in r]
XINJIANG, SHANGHAI = "urn:emining:cn:ent:xinjiang-example", "urn:emining:cn:ent:shanghai-example"
Logs = dict[tuple[str, int], list[Record]]


class Chains:
    def __init__(self) -> None:
        self.links: dict[str, tuple[int, str]] = {}

    def seal(self, org: str, data: Any, event_id: str, time: Any, *,
             sequence: int | None = None) -> Envelope:
        source = f"{org}/test"
        last, prevhash = self.links.get(source, (0, GENESIS_HASH))
        env = seal(data, source=source, signer=scenario.key_of(org).signer(),
                   sequence=sequence or last + 1, prevhash=prevhash, event_id=event_id, time=time)
        self.links[source] = (env.sequence, env.hash())
        return env

    def step(self, i: int) -> Envelope:
        s = STEPS[i]
        return self.seal(s.org, s.draft.data, s.draft.event_id or "", s.draft.time)


def _partition(env: Envelope) -> int:
    return key_partition(to_record(env).key, PARTITIONS)


def _layout(envelopes: list[Envelope], placed: dict[int, int] | None = None) -> Logs:
    logs: Logs = {}
    for i, env in enumerate(envelopes):
        kafka = to_record(env)
        tp = (kafka.topic, (placed or {}).get(i, _partition(env)))
        items = logs.setdefault(tp, [])
        items.append(Record(tp[0], tp[1], len(items), kafka.key, kafka.value,
                            tuple(kafka.headers)))
    return logs


Control = WholeLogControl


def _with_partitions() -> VerificationStage:
    topics = {PROJECTS: PROJECTS, APPROVALS: APPROVALS, SHIPMENTS: SHIPMENTS}
    return VerificationStage(StaticRegistry(scenario.registry()), [OPERATOR_KEY.public_key],
                             topics, dict.fromkeys(topics, PARTITIONS))


async def _read(tmp: Path, logs: Logs, order: list[tuple[str, int]],
                stage: VerificationStage | None = None) -> dict[str, Any]:
    store = ViewStore(f"sqlite+aiosqlite:///{tmp / uuid.uuid4().hex}.db")
    await store.open()
    letters: list[DeadLetter] = []

    async def hook(letter: DeadLetter) -> None:
        letters.append(letter)

    sync = ViewSync(store, stage or stage_for(scenario.registry()),
                    DeadLetterQueue(None, "dlq", "t", hooks=[hook]), gap_grace_s=0)
    await sync.apply([r for tp in order for r in logs[tp]], Control(logs))
    found = (await digest(store)).sha256
    async with store.reading() as (conn, tables):
        held = [(r.source, r.sequence, r.reason) for r in await conn.execute(
            select(tables.held).order_by(tables.held.c.source, tables.held.c.sequence))]
    await store.close()
    return {"digest": found, "held": held,
            "letters": sorted((lt.rejection.reason.value, lt.rejection.event_id or "")
                              for lt in letters)}


async def test_a_gap_in_one_firms_chain_never_freezes_another_firms_project(tmp_path: Path):
    def log(hostile: bool) -> list[Envelope]:
        c = Chains()
        envs = [c.step(0), c.step(1), c.step(2)]  # both firms register; Xinjiang's stage
        if hostile:  # Shanghai skips a sequence, then reports on Xinjiang's project
            data = STEPS[5].draft.data.model_copy(update={"project_id": "PRJ-BA-CHG-0001"})
            skipped = c.links[f"{SHANGHAI}/test"][0] + 2
            envs.append(c.seal(SHANGHAI, data, "evt-hostile", STEPS[4].draft.time,
                               sequence=skipped))
        return envs + [c.step(i) for i in (4, 6, 8, 10)]  # Xinjiang's history goes on

    clean, attacked = _layout(log(False)), _layout(log(True))
    base = await _read(tmp_path, clean, sorted(clean))
    got = await _read(tmp_path, attacked, sorted(attacked))
    assert got["digest"] == base["digest"]  # Xinjiang's project is as if nothing happened
    assert not [h for h in got["held"] if h[2] in ("behind", "sequence_gap")]
    assert ("own_subject", "evt-hostile") in got["letters"]
    assert ("sequence_gap", "evt-hostile") in got["letters"]  # its source's gap is alerted


async def test_a_copy_of_someones_record_elsewhere_does_not_quarantine_them(tmp_path: Path):
    c = Chains()
    envs = [c.step(0), c.step(2), c.step(4)]
    first = envs[0]
    other = next(p for p in range(PARTITIONS) if p != _partition(first))
    clean = _layout(envs)
    copied = _layout([*envs, first], placed={3: other})
    base = await _read(tmp_path, clean, sorted(clean), _with_partitions())
    for order in (sorted(copied), sorted(copied, reverse=True)):
        got = await _read(tmp_path, copied, order, _with_partitions())
        assert got["digest"] == base["digest"]
        assert got["held"] == []
        assert got["letters"] == [("wrong_partition", first.id)]


async def test_an_event_id_used_at_two_places_gives_one_digest_in_any_order(tmp_path: Path):
    c = Chains()
    home = _partition(c.step(0))
    c = Chains()
    away = next(f"PRJ-BA-CHG-{i:04d}" for i in range(3, 99)
                if key_partition(f"PRJ-BA-CHG-{i:04d}".encode(), PARTITIONS) != home)
    data = STEPS[0].draft.data.model_copy(update={"project_id": away})
    envs = [c.step(0), c.seal(XINJIANG, data, "evt-dup", STEPS[0].draft.time),
            c.seal(XINJIANG, data, "evt-dup", STEPS[0].draft.time), c.step(2), c.step(4)]
    logs = _layout(envs)
    results = [await _read(tmp_path, logs, order)
               for order in (sorted(logs), sorted(logs, reverse=True))]
    assert results[0]["digest"] == results[1]["digest"]
    for got in results:
        assert got["held"] == []  # the second use is refused, and its place passed on
        assert got["letters"] == [("duplicate", "evt-dup")]
