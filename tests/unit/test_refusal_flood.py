"""Issue 21 review 7: the checkpointer relays only refusals of real checkpoint records, and at
most one alarm per (witness, origin, kind) an hour, counting the rest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

from aiokafka.structs import ConsumerRecord

from consumers.checkpoints import checkpointer as checkpointer_module
from consumers.checkpoints import relay as relay_module
from schemas.checkpoints import Refusal, RefusalKind, RefusalRecord, sha256_hex
from schemas.registry import Registry
from tests.unit.test_checkpoint_fuzz import ORIGIN, SEED, WITNESS, _registry

CP_TOPIC = "emining.checkpoints.v1"
T = 1_700_000_000


def _rec(topic: str, offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, T * 1000, 0, b"k", value, None, 0, len(value), ())


CHECKPOINTS = [_rec(CP_TOPIC, i, f"checkpoint {i}".encode()) for i in range(3)]


def _refusal(record: str, digest: str, kind: RefusalKind = RefusalKind.FORK) -> bytes:
    return RefusalRecord.make(Refusal(WITNESS, ORIGIN, kind, record, digest, T), SEED, "d",
                              "").to_value()


class Harness:
    def __init__(self) -> None:
        self.now = float(T)
        self.raised: list[Any] = []
        self.refusals: list[ConsumerRecord[bytes, bytes]] = []

        async def sink(alarms: Any) -> None:
            self.raised.extend(alarms)

        async def loader() -> Registry:
            return _registry()

        self.cp = checkpointer_module.Checkpointer(mock.Mock(), mock.Mock(), alarm=sink,
                                                   registry=loader, clock=lambda: self.now)

    def relay(self, *values: bytes) -> int:
        start = len(self.refusals)
        self.refusals += [_rec("emining.refusals.v1", start + i, v)
                          for i, v in enumerate(values)]

        async def fake_read(_kafka: object, topics: list[str], start: Any = None,
                            **_k: object) -> AsyncIterator[list[Any]]:
            first = next(iter(start.values())) if start else 0
            source = CHECKPOINTS if topics == [CP_TOPIC] else self.refusals
            yield [r for r in source if r.offset >= first]

        with mock.patch.object(relay_module, "read_to_end", fake_read):
            return asyncio.run(self.cp.relay_refusals())


def test_a_refusal_of_no_checkpoint_record_is_not_relayed() -> None:
    h = Harness()
    good = sha256_hex(CHECKPOINTS[1].value)
    assert h.relay(_refusal(f"{CP_TOPIC}:0:9", good),  # no such record
                   _refusal(f"{CP_TOPIC}:0:1", "0" * 64),  # another hash
                   _refusal("emining.projects.v1:0:1", good),  # not the checkpoints topic
                   _refusal(f"{CP_TOPIC}:0:\u00b9", good)) == 0
    assert h.relay(_refusal(f"{CP_TOPIC}:0:1", good)) == 1
    assert [a.cause_key for a in h.raised] == ["emining.refusals.v1:0:4"]


def test_a_flood_raises_one_alarm_an_hour_and_counts_the_rest() -> None:
    h = Harness()
    refusals = [_refusal(f"{CP_TOPIC}:0:{i % 3}", sha256_hex(CHECKPOINTS[i % 3].value))
                for i in range(50)]
    assert h.relay(*refusals) == 1
    assert h.relay(_refusal(f"{CP_TOPIC}:0:2", sha256_hex(CHECKPOINTS[2].value),
                            RefusalKind.SHRINK)) == 1  # another kind: its own alarm
    h.now += 3599
    assert h.relay(*refusals[:5]) == 0
    h.now += 2
    assert h.relay(refusals[0]) == 1
    assert len(h.raised) == 3
    assert h.raised[-1].detail == (
        "d (and 54 more of this witness, origin and kind in the last hour)")
