"""Issue 21 review: hostile records on the checkpoint topics never crash a reader.

Every parser raises only its declared error (``TlogError``); the checkpointer's refusal relay
and the audit's reader log / report and go on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from aiokafka.structs import ConsumerRecord

from consumers.audit.cosigned import read_checkpoints
from consumers.audit.findings import Kind
from consumers.audit.records import RawRecord
from consumers.checkpoints import checkpointer as checkpointer_module
from consumers.checkpoints import relay as relay_module
from schemas.checkpoints import (
    CheckpointRecord,
    CosignatureRecord,
    Refusal,
    RefusalKind,
    RefusalRecord,
    sha256_hex,
)
from schemas.enums import Language, Role, Side
from schemas.registry import KeyRecord, OrgRecord, Registry
from schemas.tlog import (
    Checkpoint,
    TlogError,
    cosign,
    public_key_of,
    sign_checkpoint,
    sign_note,
)

WITNESS = "urn:emining:org:witness"
SEED = bytes(range(32))
ORIGIN = "emining/emining.projects.v1/0"


def _registry() -> Registry:
    reg = Registry()
    reg.orgs[WITNESS] = OrgRecord(
        WITNESS, {"en": "W"}, Side.PK, Role.FIRM, Language.EN, None,
        datetime(2020, 1, 1, tzinfo=UTC),
        keys={"k1": KeyRecord("k1", public_key_of(SEED), datetime(2020, 1, 1, tzinfo=UTC))})
    return reg


def _refusal_note(time_text: str) -> str:
    text = (f"emining-refusal/v1\n{WITNESS}\n{ORIGIN}\nfork\nt:0:0\n{'0' * 64}\n"
            f"{time_text}\n")
    return sign_note(text, f"emining-witness/{WITNESS}", SEED)


def _refusal_value(time_text: str) -> bytes:
    return json.dumps({"note": _refusal_note(time_text), "witness": WITNESS, "origin": ORIGIN,
                       "kind": "fork", "record": "t:0:0", "key_name": f"emining-witness/{WITNESS}",
                       "detail": "", "refused": ""}).encode()


HOSTILE_TIMES = ["99999999999999", "\u00b2", "\u0663", "1" * 5000, "00012", "-1", "",
                 "253402300800"]


@pytest.mark.parametrize("time_text", HOSTILE_TIMES)
def test_a_refusal_time_that_is_not_sane_unix_seconds_is_a_tlog_error(time_text: str) -> None:
    with pytest.raises(TlogError):
        RefusalRecord.from_value(_refusal_value(time_text))


def test_a_sane_refusal_time_parses() -> None:
    assert RefusalRecord.from_value(_refusal_value("1700000000")).refusal.time == 1700000000


def _garbage(rng: random.Random, depth: int = 0) -> Any:  # noqa: PLR0911
    pick = rng.randrange(10 if depth < 3 else 6)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.choice([0, -1, 10**12, 10**20, 2**63, 1e308, -1e308, 1.5, 10**300])
    if pick == 2:
        return rng.choice(["", "\u00b2", "x", "\n\n", "\x00", "AAAA", "emining-refusal/v1",
                           "0" * 44, "\ud800"])
    if pick == 3:
        return _refusal_note(rng.choice([*HOSTILE_TIMES, "1700000000"]))
    if pick == 4:
        return sign_checkpoint(Checkpoint(ORIGIN, rng.randrange(5), bytes(32)), SEED)
    if pick == 5:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(8)))
    if pick in (6, 7):
        return [_garbage(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {k: _garbage(rng, depth + 1) for k in rng.sample(FIELDS, rng.randrange(len(FIELDS)))}


FIELDS = ["note", "time", "previous_size", "consistency", "origin", "size", "root", "witness",
          "key_name", "line", "kind", "record", "detail", "refused"]


def _values(n: int) -> list[bytes]:
    rng = random.Random(21)
    good_cosig = CosignatureRecord(ORIGIN, 1, bytes(32), WITNESS, f"emining-witness/{WITNESS}",
                                   cosign(Checkpoint(ORIGIN, 1, bytes(32)),
                                          f"emining-witness/{WITNESS}", SEED, 10**15)).to_value()
    out = [b"", b"\xff\xfe", b"[" * 100000 + b"]" * 100000, b"null", b"1e999", good_cosig,
           _refusal_value("99999999999999"), _refusal_value("\u00b2")]
    for _ in range(n):
        doc = {k: _garbage(rng) for k in FIELDS if rng.random() < 0.7}
        out.append(json.dumps(doc).encode("utf-8", "surrogatepass"))
    return out


def test_the_parsers_raise_only_tlog_errors_on_garbage() -> None:
    for value in _values(600):
        for parse in (CheckpointRecord.from_value, CosignatureRecord.from_value,
                      RefusalRecord.from_value):
            try:
                parsed = parse(value)
            except TlogError:
                continue
            if isinstance(parsed, CheckpointRecord | CosignatureRecord):  # what readers use next
                with contextlib.suppress(TlogError):
                    _ = parsed.checkpoint
    with pytest.raises(TlogError):
        Refusal.parse("emining-refusal/v1\nw\no\nfork\nr\nd\n\u00b2\n")


def test_audit_read_checkpoints_never_crashes_on_garbage() -> None:
    values = _values(300)
    recs = [RawRecord("t", 0, i, 1_700_000_000_000, b"k", v, ()) for i, v in enumerate(values)]
    judged = read_checkpoints(recs, recs, [bytes(32)], _registry(), None, recs)
    # every record that is not a checkpoint is named as such
    assert sum(f.kind == Kind.CHECKPOINT_INVALID for f in judged.findings) == len(values)
    assert judged.refusals == 0  # none of the hostile refusals is reported as a witness's


def _consumer_record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("emining.refusals.v1", 0, offset, 1_700_000_000_000, 0, b"k", value,
                          None, 0, len(value), ())


def test_relay_refusals_skips_hostile_records_and_relays_the_good_one() -> None:
    hostile = [_refusal_value(t) for t in HOSTILE_TIMES] + _values(100)
    checkpoint = _consumer_record(0, b'{"a checkpoint": 1}')
    good = RefusalRecord.make(Refusal(WITNESS, ORIGIN, RefusalKind.FORK,
                                      "emining.checkpoints.v1:0:0", sha256_hex(checkpoint.value),
                                      1_700_000_000), SEED, "d", "").to_value()
    records = [_consumer_record(i, v) for i, v in enumerate([*hostile, good])]

    async def fake_read(_kafka: object, topics: list[str], **_k: object
                        ) -> AsyncIterator[list[Any]]:
        yield [checkpoint] if topics == ["emining.checkpoints.v1"] else records

    raised: list[Any] = []

    async def sink(alarms: Any) -> None:
        raised.extend(alarms)

    async def loader() -> Registry:
        return _registry()

    cp = checkpointer_module.Checkpointer(mock.Mock(), mock.Mock(), alarm=sink, registry=loader)
    with mock.patch.object(relay_module, "read_to_end", fake_read):
        assert asyncio.run(cp.relay_refusals()) == 1
    assert [a.cause_key for a in raised] == [f"emining.refusals.v1:0:{len(records) - 1}"]
    assert cp.relay.next_offset == len(records)


@pytest.mark.parametrize("time", [10**20, 10**12, -1, 1e308, "x", None])
def test_a_signed_checkpoint_with_an_insane_time_is_a_checkpoint_invalid_finding(
        time: object) -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), SEED)
    value = json.dumps({"note": note, "time": time, "previous_size": None,
                        "consistency": []}).encode()
    judged = read_checkpoints([RawRecord("emining.checkpoints.v1", 0, 5, 0, b"k", value, ())],
                              [], [public_key_of(SEED)], None, None)
    assert [(f.kind, f.offset) for f in judged.findings] == [(Kind.CHECKPOINT_INVALID, 5)]
    assert "time is unix seconds" in judged.findings[0].reason
    assert judged.checkpoints == {}


def test_cosignature_and_refusal_values_over_4_kib_are_refused_unread() -> None:
    big_cosig = json.dumps({"origin": ORIGIN, "size": 1, "root": "A" * 44, "witness": WITNESS,
                            "key_name": "k", "line": "x", "pad": "p" * 5000}).encode()
    with pytest.raises(TlogError, match="at most 4096"):
        CosignatureRecord.from_value(big_cosig)
    doc = json.loads(_refusal_value("1700000000"))
    doc["detail"] = "d" * 5000
    with pytest.raises(TlogError, match="at most 4096"):
        RefusalRecord.from_value(json.dumps(doc).encode())
    judged = read_checkpoints([], [RawRecord("c", 0, 3, 0, b"k", big_cosig, ())],
                              [], _registry(), None)
    assert [(f.kind, f.offset) for f in judged.findings] == [(Kind.BAD_COSIGNATURE, 3)]


def test_a_witness_refusal_of_a_huge_record_is_trimmed_to_fit_and_still_verifies() -> None:
    said = Refusal(WITNESS, ORIGIN, RefusalKind.BAD_SIGNATURE, "emining.checkpoints.v1:0:7",
                   "0" * 64, 1_700_000_000)
    made = RefusalRecord.make(said, SEED, "why " * 300, "\u4e2d\x01" * 20_000)
    value = made.to_value()
    assert len(value) <= 4096
    back = RefusalRecord.from_value(value)
    assert back.refusal == said
    assert back.verify([public_key_of(SEED)])
