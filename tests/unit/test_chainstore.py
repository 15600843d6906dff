"""The chain store remembers what the broker acknowledged, and says what became of an id: at
start-up the gateway settles the claims a crash left pending from it."""

from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from producers import chainstore
from producers.chainstore import Acknowledged, ChainStore, Pending, chain_path
from producers.gateway_custody import CUSTODIAL_INSTANCE, Custody, Origin, acceptance
from producers.gateway_receipts import Receipt, Receipts, ReceiptState
from producers.publisher import PublishResult
from schemas.catalogue import model_for
from schemas.chain import Link
from schemas.envelope import to_record
from schemas.signing import PrivateKey
from tests.unit.helpers import example, sealed
from transport.access import KafkaAccess
from transport.sender import Ack, RecordSender

MILESTONE = "pk.emining.project.milestone.reached"
ORG = "urn:emining:cn:ent:chainstore-test"
SOURCE = f"{ORG}/{CUSTODIAL_INSTANCE}"
KEY = PrivateKey.generate(ORG)

OLD_SCHEMA = """
CREATE TABLE head (source TEXT PRIMARY KEY, sequence INTEGER NOT NULL, hash TEXT NOT NULL);
CREATE TABLE outbox (
    sequence INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, topic TEXT NOT NULL,
    key BLOB NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL);
"""


def sign(store: ChainStore, *event_ids: str) -> list[Pending]:
    """Sign one event per id as the next links of the store's chain and reserve them."""
    link = store.head()
    signed = []
    for event_id in event_ids:
        sequence, prevhash = link.next()
        env = sealed(example(model_for(MILESTONE)), KEY, source=store.source, sequence=sequence,
                     prevhash=prevhash, event_id=event_id)
        link = Link(sequence=sequence, hash=env.hash())
        signed.append((env.id, to_record(env), sequence, link.hash))
    store.reserve(signed)
    return [Pending(seq, eid, rec) for eid, rec, seq, _ in signed]


def landed(pending: Pending, partition: int, offset: int) -> PublishResult:
    return PublishResult(pending.event_id, SOURCE, pending.sequence, pending.record.topic,
                         partition, offset)


def test_an_acknowledged_record_leaves_the_outbox_and_is_remembered_where_it_landed(tmp_path):
    store = ChainStore(tmp_path, SOURCE)
    try:
        first, second = sign(store, "e-1", "e-2")
        assert store.lookup("e-1") == first
        store.acknowledge([landed(first, 2, 17)])
        assert store.pending() == [second]
        assert store.lookup("e-1") == Acknowledged(1, "e-1", first.record.topic, 2, 17)
        assert store.lookup("e-2") == second
        assert store.lookup("never-signed") is None
        assert store.find("e-1") is None
        assert store.pending_ids() == {"e-2"}, "one query for what find asks per id"
        store.acknowledge([landed(second, 0, 3)])
        assert store.pending_ids() == set()
    finally:
        store.close()
    reopened = ChainStore(tmp_path, SOURCE)
    try:
        assert reopened.lookup("e-1") == Acknowledged(1, "e-1", first.record.topic, 2, 17)
    finally:
        reopened.close()


def test_an_acknowledgement_is_as_durable_as_what_was_signed(tmp_path):
    """Both the reservation (the signed records and the chain's head) and the acknowledgement
    commit with ``synchronous=FULL`` (an fsync). An acknowledgement a power loss took back would
    leave its events pending, and organisations and the gateway have no READ on the topics they
    write (``infra/kafka_admin/acls.py``): pending events they cannot look up are re-sent, a
    copy on the log and, at the gateway, a receipt moved to the copy after the client had its
    202 (found in review, 2026-12-07; an acknowledgement without an fsync was tried and undone).
    """
    store = ChainStore(tmp_path, SOURCE)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    try:
        [first] = sign(store, "evt-1")
        store.acknowledge([landed(first, 0, 7)])
        sign(store, "evt-2")
        assert int(store._db.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
        assert statements.count("COMMIT") == 3
        assert not [s for s in statements if s.upper().startswith("PRAGMA SYNCHRONOUS=")]
        assert store.lookup("evt-1") == Acknowledged(1, "evt-1", first.record.topic, 0, 7)
    finally:
        store.close()


def test_a_sequence_alone_is_acknowledged_without_a_place(tmp_path):
    store = ChainStore(tmp_path, SOURCE)
    try:
        (first,) = sign(store, "e-1")
        store.acknowledge([first.sequence])
        assert store.pending() == []
        assert store.lookup("e-1") == Acknowledged(1, "e-1", first.record.topic, None, None)
    finally:
        store.close()


def test_acknowledging_again_keeps_the_first_place(tmp_path):
    store = ChainStore(tmp_path, SOURCE)
    try:
        (first,) = sign(store, "e-1")
        store.acknowledge([landed(first, 0, 5)])
        store.acknowledge([landed(first, 1, 9)])  # no longer in the outbox: nothing to move
        found = store.lookup("e-1")
        assert isinstance(found, Acknowledged)
        assert (found.partition, found.offset) == (0, 5)
    finally:
        store.close()


def test_only_the_latest_acknowledgements_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(chainstore, "ACKNOWLEDGED_KEPT", 2)
    store = ChainStore(tmp_path, SOURCE)
    try:
        signed = sign(store, "e-1", "e-2", "e-3", "e-4")
        store.acknowledge([landed(p, 0, p.sequence) for p in signed])
        assert store.lookup("e-1") is None
        assert store.lookup("e-2") is None
        assert [store.lookup(e) is not None for e in ("e-3", "e-4")] == [True, True]
    finally:
        store.close()


def test_a_file_from_before_acknowledgements_were_kept_opens_and_keeps_its_outbox(tmp_path):
    # An outbox record as the previous version left it: signed, never acknowledged.
    store = ChainStore(tmp_path / "model", SOURCE)
    try:
        (old,) = sign(store, "e-old")
        head = store.head()
    finally:
        store.close()
    path = chain_path(tmp_path, SOURCE)
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO head VALUES (?, ?, ?)", (SOURCE, head.sequence, head.hash))
    model = sqlite3.connect(chain_path(tmp_path / "model", SOURCE))
    rows = model.execute("SELECT * FROM outbox").fetchall()
    model.close()
    db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()

    upgraded = ChainStore(tmp_path, SOURCE)
    try:
        assert upgraded.path == path
        assert upgraded.head() == head
        assert upgraded.pending() == [old]
        assert upgraded.lookup("e-old") == old
        (new,) = sign(upgraded, "e-new")
        assert new.sequence == 2
        upgraded.acknowledge([landed(old, 1, 3), landed(new, 1, 4)])
        assert upgraded.lookup("e-old") == Acknowledged(1, "e-old", old.record.topic, 1, 3)
        assert upgraded.lookup("e-new") == Acknowledged(2, "e-new", new.record.topic, 1, 4)
    finally:
        upgraded.close()


def test_chain_path_names_the_file_without_creating_it(tmp_path):
    path = chain_path(tmp_path, SOURCE)
    assert not path.exists()
    store = ChainStore(tmp_path, SOURCE)
    try:
        assert store.path == path
        assert path.exists()
    finally:
        store.close()


# -- the gateway after a crash --------------------------------------------------------------------

PRESIGNING = "urn:emining:pk:gov:presigns-only"


def custody(tmp_path) -> Custody:
    sender = RecordSender(KafkaAccess("127.0.0.1:9"))  # never started: recovery needs no broker
    return Custody(sender=sender, custody_dir=tmp_path / "custody", chain_dir=tmp_path / "chains")


def test_stale_claims_are_accepted_queued_or_dropped_as_the_chain_store_says(tmp_path):
    store = ChainStore(tmp_path / "chains", SOURCE)
    try:
        acked, queued = sign(store, "acked", "queued")
        store.acknowledge([PublishResult("acked", SOURCE, 1, acked.record.topic, 2, 41)])
    finally:
        store.close()
    receipts = Receipts(tmp_path / "gateway")
    try:
        for org, event_id in [(ORG, "done"), (ORG, "acked"), (ORG, "queued"), (ORG, "unsigned"),
                              (PRESIGNING, "presigned")]:
            assert receipts.claim(org, event_id) is None
        receipts.settle(ORG, "done", ReceiptState.ACCEPTED, {"id": "done"})

        with capture_logs() as logs:
            custody(tmp_path).recover(receipts)

        topic = acked.record.topic
        first_answer = acceptance("acked", Origin(topic, SOURCE, 1), Ack(topic, 2, 41),
                                  custody=True)
        assert first_answer["partition"] == 2
        assert receipts.get(ORG, "acked") == Receipt(ReceiptState.ACCEPTED, first_answer)
        assert receipts.get(ORG, "queued") == Receipt(
            ReceiptState.QUEUED,
            acceptance("queued", Origin(queued.record.topic, SOURCE, 2), None, custody=True),
        )
        assert receipts.get(ORG, "unsigned") is None
        assert receipts.get(PRESIGNING, "presigned") is None
        assert receipts.get(ORG, "done") == Receipt(ReceiptState.ACCEPTED, {"id": "done"})
        assert receipts.stale_pending() == []
        assert receipts.queued() == [(ORG, "queued")]
    finally:
        receipts.close()

    assert [(e["org"], e["event_id"], e["outcome"]) for e in logs] == [
        (ORG, "acked", "accepted"), (ORG, "queued", "queued"), (ORG, "unsigned", "dropped"),
        (PRESIGNING, "presigned", "dropped"),
    ]
    assert {e["event"] for e in logs} == {"stale_claim_recovered"}
    assert not chain_path(tmp_path / "chains", f"{PRESIGNING}/{CUSTODIAL_INSTANCE}").exists()
    ChainStore(tmp_path / "chains", SOURCE).close()  # the lock was let go


def test_nothing_stale_opens_nothing(tmp_path):
    receipts = Receipts(tmp_path / "gateway")
    try:
        custody(tmp_path).recover(receipts)
    finally:
        receipts.close()
    assert not (tmp_path / "chains").exists()


@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40).map(
    lambda t: t.encode("utf-8", "surrogatepass"))), max_size=15))
def test_headers_json_is_json_dumps_of_the_decoded_headers(
    headers: list[tuple[str, bytes]],
) -> None:
    """The outbox's headers column: the very text ``json.dumps`` wrote before (old files read
    the same), non-ASCII and control characters escaped as it escapes them."""
    try:
        expected = json.dumps([[k, v.decode()] for k, v in headers])
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            chainstore.headers_json(headers)
        return
    assert chainstore.headers_json(headers) == expected
    assert json.loads(chainstore.headers_json(headers)) == [[k, v.decode()] for k, v in headers]
