"""Delivery without a broker: which records a batch applies, and what a dead letter carries."""

from __future__ import annotations

import pytest

from consumers.dlq import DeadLetterError, DeadLetterQueue
from consumers.positions import select as _select
from consumers.verification import Reason, Rejected
from tests.unit.views.harness import Record
from transport.sender import Ack

TP = ("emining.projects.v1", 2)


def _records(*offsets: int) -> dict[tuple[str, int], list[Record]]:
    return {TP: [Record(*TP, o, b"k", b"v", ()) for o in offsets]}


def _offsets(todo: list[Record]) -> list[int]:
    return [r.offset for r in todo]


def test_a_batch_starting_at_the_stored_offset_is_applied_whole():
    todo, reseek, skipped = _select(_records(10, 11, 12), {TP: 10}, {TP: None})
    assert (_offsets(todo), reseek, skipped) == ([10, 11, 12], {}, 0)


def test_records_below_the_stored_offset_were_applied_before_and_are_skipped():
    todo, reseek, skipped = _select(_records(8, 9, 10, 11), {TP: 10}, {TP: None})
    assert (_offsets(todo), reseek, skipped) == ([10, 11], {}, 2)


def test_a_batch_far_behind_the_store_jumps_to_the_stored_offset():
    todo, reseek, skipped = _select(_records(0, 1, 2), {TP: 500}, {TP: None})
    assert (todo, reseek, skipped) == ([], {TP: 500}, 3)


def test_a_batch_beyond_the_stored_offset_is_dropped_and_the_partition_reread():
    todo, reseek, skipped = _select(_records(20, 21), {TP: 10}, {TP: None})
    assert (todo, reseek, skipped) == ([], {TP: 10}, 2)


def test_a_hole_in_the_log_right_after_seeking_to_the_stored_offset_is_accepted():
    todo, reseek, _ = _select(_records(12, 13), {TP: 10}, {TP: 10})
    assert (_offsets(todo), reseek) == ([12, 13], {})


def test_a_seek_elsewhere_does_not_vouch_for_a_hole():
    todo, reseek, _ = _select(_records(12, 13), {TP: 10}, {TP: 11})
    assert (todo, reseek) == ([], {TP: 10})


class FakeSender:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list = []
        self.fail = fail

    async def send(self, records):
        self.sent += records
        return ["timed out" if self.fail else Ack("dlq", 0, i) for i, _ in enumerate(records)]


RECORD = Record("emining.approvals.v1", 4, 1234, None, b"\xff\xfegarbage",
                (("ce_id", b"\xff\xfe"), ("ce_source", None)))
WHY = Rejected(Reason.BAD_HEADER, "header ce_id is not UTF-8")


async def test_a_dead_letter_keeps_the_original_bytes_and_says_why_and_where():
    sender = FakeSender()
    dlq = DeadLetterQueue(sender, "emining.dlq.v1", "views")  # type: ignore[arg-type]
    await dlq.send([dlq.letter(RECORD, WHY)])
    [sent] = sender.sent
    assert (sent.topic, sent.key, sent.value) == ("emining.dlq.v1", None, b"\xff\xfegarbage")
    assert sent.headers[:2] == [("ce_id", b"\xff\xfe"), ("ce_source", None)]
    assert dict(sent.headers[2:]) == {
        "dlq_reason": b"bad_header", "dlq_detail": b"header ce_id is not UTF-8",
        "dlq_topic": b"emining.approvals.v1", "dlq_partition": b"4", "dlq_offset": b"1234",
        "dlq_consumer": b"views", "dlq_id": b"emining.approvals.v1:4:1234",
    }


async def test_security_hooks_run_only_after_the_dlq_acknowledged():
    seen: list[str] = []

    async def hook(letter):
        seen.append(letter.dlq_id)

    failing = DeadLetterQueue(FakeSender(fail=True), "dlq", "views", [hook])  # type: ignore[arg-type]
    with pytest.raises(DeadLetterError, match="not acknowledged"):
        await failing.send([failing.letter(RECORD, WHY)])
    assert seen == []
    working = DeadLetterQueue(FakeSender(), "dlq", "views", [hook])  # type: ignore[arg-type]
    await working.send([working.letter(RECORD, WHY)])
    assert seen == ["emining.approvals.v1:4:1234"]
