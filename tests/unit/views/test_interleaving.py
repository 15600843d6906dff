"""Any interleaving of a log's partitions gives one set of views (``consumers.holding``).

The log is the views scenario, sealed per organisation as one chained source, laid out on six
partitions per topic, plus the faults a consumer must not be steered by: a source whose chain
has a permanent gap, and a source that forked (two events with one sequence, in different
partitions). Each example reads it through the real consumer path (``ViewSync`` on SQLite) in
another interleaving and batching; the digest must equal the one of reading the partitions one
after the other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from structlog.testing import capture_logs
from typer.testing import CliRunner

from consumers.digest import digest
from consumers.dlq import DeadLetter, DeadLetterQueue
from consumers.holding.held import HeldSet
from consumers.store import ViewStore
from consumers.sync import ViewSync
from consumers.verification import Reason
from infra.cli import app
from schemas.chain import Link
from schemas.envelope import Envelope, org_of, seal, to_record
from tests.integration.views import scenario
from tests.unit.views.harness import PARTITIONS, Record, WholeLogControl, stage_for
from transport.meta import key_partition

STORIES = 3


@dataclass(slots=True)
class Faulty:
    """The scenario's envelopes with a gap in one source and a fork in another."""

    envelopes: list[Envelope] = field(default_factory=list)
    gap_source: str = ""
    gap_sequence: int = 0
    fork_source: str = ""
    fork_sequence: int = 0
    refused_id: str = ""


def _sources(steps: list[scenario.Step]) -> Faulty:
    links: dict[str, Link] = {}
    out = Faulty()
    by_source: dict[str, list[tuple[scenario.Step, Envelope]]] = {}
    firm = f"{steps[0].org}/test"
    for i, step in enumerate(steps):
        source = f"{step.org}/test"
        if source == firm and i > len(steps) // 3 and not out.refused_id:
            # A firm signs a licence grant (no authority): refused, yet a link of its chain.
            grant = scenario.event("pk.emining.approval.licence.granted")
            sequence, prevhash = links[source].next()
            env = seal(grant, source=source, signer=scenario.key_of(step.org).signer(),
                       sequence=sequence, prevhash=prevhash, event_id="evt-unauthorised",
                       time=step.draft.time)
            links[source] = Link(sequence, env.hash())
            out.envelopes.append(env)
            out.refused_id = env.id
        sequence, prevhash = links.get(source, Link()).next()
        env = seal(step.draft.data, source=source, signer=scenario.key_of(step.org).signer(),
                   sequence=sequence, prevhash=prevhash, event_id=step.draft.event_id,
                   time=step.draft.time)
        links[source] = Link(sequence, env.hash())
        out.envelopes.append(env)
        by_source.setdefault(source, []).append((step, env))
    assert out.refused_id
    busiest = [s for s in sorted(by_source, key=lambda s: -len(by_source[s])) if s != firm]
    # A gap: the busiest source's event in the middle is never written.
    out.gap_source = busiest[0]
    gone = by_source[out.gap_source][len(by_source[out.gap_source]) // 2][1]
    out.gap_sequence = gone.sequence
    out.envelopes.remove(gone)
    # A fork: the next source signs, besides its event n, another event with sequence n, about
    # the subject of its event n + 1 (so in another partition, as the consumer finds them).
    out.fork_source = busiest[1]
    chain = by_source[out.fork_source]
    for k in range(len(chain) // 3, len(chain) - 1):
        here, after = chain[k][1], chain[k + 1]
        if _partition(here) != _partition(after[1]):
            twin = seal(after[0].draft.data, source=out.fork_source,
                        signer=scenario.key_of(after[0].org).signer(), sequence=here.sequence,
                        prevhash=here.prevhash, event_id=f"{after[0].draft.event_id}-twin",
                        time=after[0].draft.time)
            out.envelopes.insert(out.envelopes.index(after[1]), twin)
            out.fork_sequence = here.sequence
            break
    assert out.fork_sequence, "the scenario has a source writing to two partitions"
    return out


def _partition(env: Envelope) -> int:
    return key_partition(to_record(env).key, PARTITIONS)


def _layout(envelopes: list[Envelope]) -> dict[tuple[str, int], list[Record]]:
    logs: dict[tuple[str, int], list[Record]] = {}
    for env in envelopes:
        kafka = to_record(env)
        tp = (kafka.topic, _partition(env))
        items = logs.setdefault(tp, [])
        items.append(Record(tp[0], tp[1], len(items), kafka.key, kafka.value,
                            tuple(kafka.headers)))
    return logs


FAULTY = _sources([s for steps in scenario.build(STORIES).rounds() for s in steps])
LOG = _layout(FAULTY.envelopes)


Control = WholeLogControl


async def _read(tmp: Path, order: Sequence[Record], sizes: Sequence[int],
                checked: list[tuple[str, int, int]] | None = None) -> dict[str, Any]:
    """``checked``: filled with the place of every record the verification stage checks."""
    path = tmp / f"views-{uuid.uuid4().hex}.db"
    store = ViewStore(f"sqlite+aiosqlite:///{path}")
    await store.open()
    letters: list[DeadLetter] = []

    async def hook(letter: DeadLetter) -> None:
        letters.append(letter)

    stage = stage_for(scenario.registry())
    if checked is not None:
        check_batch = stage.check_batch

        async def counted(records: Sequence[Any]) -> Any:
            checked.extend((r.topic, r.partition, r.offset) for r in records)
            return await check_batch(records)

        stage.check_batch = counted  # type: ignore[method-assign]
    sync = ViewSync(store, stage, DeadLetterQueue(None, "dlq", "t", hooks=[hook]),
                    gap_grace_s=0)  # a gap that stays: alerted at once (see test_gap_grace)
    control = Control(LOG)
    at, k = 0, 0
    while at < len(order):
        size = sizes[k % len(sizes)]
        await sync.apply(order[at:at + size], control)
        at, k = at + size, k + 1
    result = (await digest(store)).as_dict()
    async with store.reading() as (conn, tables):
        held = [(r.source, r.sequence, r.reason) for r in
                await conn.execute(select(tables.held).order_by(tables.held.c.source,
                                                                tables.held.c.sequence))]
    await store.close()
    alerted = sorted({(lt.rejection.reason.value, lt.rejection.source or "")
                      for lt in letters if lt.rejection.reason in
                      (Reason.SEQUENCE_GAP, Reason.FORK)})
    refused = sorted({(lt.rejection.reason.value, lt.rejection.event_id or "")
                      for lt in letters})
    return {"digest": result, "held": held, "alerted": alerted, "path": path,
            "refused": refused}


def _in_turn(logs: dict[tuple[str, int], list[Record]], reverse: bool = False) -> list[Record]:
    return [r for tp in sorted(logs, reverse=reverse) for r in logs[tp]]


def _interleaved(logs: dict[tuple[str, int], list[Record]], rng: random.Random) -> list[Record]:
    queues = {tp: list(items) for tp, items in logs.items()}
    order: list[Record] = []
    while queues:
        tp = rng.choice(sorted(queues))
        take = rng.randint(1, 4)
        order += queues[tp][:take]
        queues[tp] = queues[tp][take:]
        if not queues[tp]:
            del queues[tp]
    return order


def _settled(result: dict[str, Any]) -> list[tuple[str, int]]:
    """What is held, but for the forked source's stretch from the fork on: there a record the
    views refused before the fork was known (a dead letter) is held in an order that found the
    fork first. Neither counts in the views, which the digest compares."""
    return sorted((s, q) for s, q, _ in result["held"]
                  if not (s == FAULTY.fork_source and q >= FAULTY.fork_sequence))


_BASELINE: dict[str, Any] = {}


def _baseline(tmp: Path) -> dict[str, Any]:
    if not _BASELINE:
        _BASELINE.update(asyncio.run(_read(tmp, _in_turn(LOG), [50])))
    return _BASELINE


def test_the_faults_are_held_and_alerted_not_applied(tmp_path: Path) -> None:
    base = _baseline(tmp_path)
    held = base["held"]
    gap = [h for h in held if h[0] == FAULTY.gap_source]
    assert gap
    assert all(seq > FAULTY.gap_sequence and why in ("sequence_gap", "behind")
                       for _, seq, why in gap)
    assert any(why == "sequence_gap" for _, _, why in gap)
    fork = [h for h in held if h[0] == FAULTY.fork_source]
    assert {seq for _, seq, why in fork if why == "fork"} >= {FAULTY.fork_sequence}
    assert all(seq >= FAULTY.fork_sequence for _, seq, why in fork if why == "fork")
    assert ("fork", FAULTY.fork_source) in base["alerted"]
    # the firm's refused grant passed its place on: nothing of the firm is held
    firm = next(e.source for e in FAULTY.envelopes if e.id == FAULTY.refused_id)
    assert not [h for h in held if h[0] == firm]
    assert ("authority", FAULTY.refused_id) in base["refused"]
    assert ("sequence_gap", FAULTY.gap_source) in base["alerted"]


def test_reading_partitions_in_reverse_gives_the_same_views(tmp_path: Path) -> None:
    other = asyncio.run(_read(tmp_path, _in_turn(LOG, reverse=True), [7, 50, 1]))
    base = _baseline(tmp_path)
    assert other["digest"] == base["digest"]
    assert _settled(other) == _settled(base)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.integers(1, 60), min_size=1, max_size=4))
def test_any_interleaving_gives_one_digest(tmp_path: Path, seed: int, sizes: list[int]) -> None:
    order = _interleaved(LOG, random.Random(seed))
    assert sorted((r.topic, r.partition, r.offset) for r in order) == \
        sorted((r.topic, r.partition, r.offset) for rs in LOG.values() for r in rs)
    got = asyncio.run(_read(tmp_path, order, sizes))
    base = _baseline(tmp_path)
    assert got["digest"] == base["digest"]
    assert _settled(got) == _settled(base)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(100, 400))
def test_a_record_held_and_released_in_one_batch_is_verified_once(
    tmp_path: Path, seed: int, size: int,
) -> None:
    # large batches of a shuffled interleaving: records wait in a batch for a predecessor
    # further on in it, and are released there; their verdicts are the batch's own
    order = _interleaved(LOG, random.Random(seed))
    checked: list[tuple[str, int, int]] = []
    got = asyncio.run(_read(tmp_path, order, [size], checked))
    assert len(checked) == len(order)
    assert sorted(checked) == sorted((r.topic, r.partition, r.offset) for r in order)
    assert got["digest"] == _baseline(tmp_path)["digest"]


def test_views_held_lists_what_is_held(tmp_path: Path, monkeypatch: Any) -> None:
    base = asyncio.run(_read(tmp_path, _in_turn(LOG), [50]))
    monkeypatch.setenv("EMINING_VIEWS_URL", f"sqlite:///{base['path']}")
    monkeypatch.setenv("EMINING_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    answer = CliRunner().invoke(app, ["views", "held", "--json"])
    assert answer.exit_code == 0, answer.output
    rows = json.loads(answer.stdout)["held"]
    assert [(r["source"], r["sequence"], r["reason"]) for r in rows] == \
        [tuple(h) for h in base["held"]]
    gap = next(r for r in rows if r["reason"] == "sequence_gap")
    assert gap["source"] == FAULTY.gap_source
    assert gap["sequence"] > FAULTY.gap_sequence
    assert (gap["topic"], gap["log_partition"]) in LOG
    assert 0 <= gap["held_for_s"] < 600  # held by this test, moments ago


def test_a_held_record_is_logged_once_if_its_batch_leaves_it_held(
    tmp_path: Path, monkeypatch: Any,
) -> None:
    # small batches of an interleaved log: records wait for predecessors a batch or more
    # away, some are released within the batch that held them; a line is worth it only for
    # those a batch leaves held
    left: list[tuple[str, int, int]] = []
    ended: list[tuple[str, int, int]] = []
    write = HeldSet.write

    async def noted(self: HeldSet) -> None:
        left.extend(sorted(self.fresh & self.records.keys()))
        ended.extend(self.fresh - self.records.keys())
        await write(self)

    monkeypatch.setattr(HeldSet, "write", noted)
    order = _interleaved(LOG, random.Random(7))
    before = structlog.get_config()  # a CLI test may have left the level at warning
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        with capture_logs() as logs:
            got = asyncio.run(_read(tmp_path, order, [9]))
    finally:
        structlog.configure(**before)
    lines = [line for line in logs if line["event"] == "record_held"]
    assert ended, "some holds end in the batch that made them"
    assert left, "and some are left held"
    assert [(line["topic"], line["partition"], line["offset"]) for line in lines] == left
    assert got["digest"] == _baseline(tmp_path)["digest"]
    by_place = {(r.topic, r.partition, r.offset): r for rs in LOG.values() for r in rs}
    for line in lines:
        record = by_place[line["topic"], line["partition"], line["offset"]]
        headers = {k: v.decode() for k, v in record.headers if v is not None}
        assert line["event_id"] == headers["ce_id"]
        assert line["org"] == org_of(headers["ce_source"])
        assert line["sequence"] == int(headers["ce_sequence"])
        assert line["subject"] == headers["ce_subject"]
        assert line["reason"] in {"sequence_gap", "behind", "link_only", "fork"}
