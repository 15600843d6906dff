"""The delivery worker on the real broker: signed alerts on each recipient's topic, exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from consumers.alerts import tables
from consumers.alerts.clock import ManualClock
from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.reader import AlertVerifier
from consumers.alerts.store import AlertStore, alert_docs, record_alerts
from producers.chainstore import ChainStore
from schemas.alerts import PLATFORM_ORG
from schemas.envelope import KafkaRecord
from schemas.signing import PrivateKey
from tests.integration.alerts.conftest import (
    customs_hold_alert,
    ensure,
    topic_records,
    unique_firm,
)
from transport.access import KafkaAccess
from transport.errors import PublishError

pytestmark = pytest.mark.integration


def worker(kafka: KafkaAccess, store: AlertStore, operator: PrivateKey, state: Path,
           _: ManualClock) -> AlertDelivery:
    async def ensure_topics(orgs: list[str]) -> None:
        await ensure(kafka, orgs)

    return AlertDelivery(store, key=operator, kafka=kafka, state_dir=state,
                         ensure_topics=ensure_topics)


async def test_alerts_reach_each_recipient_topic_signed_by_the_platform(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey,
    verifier: AlertVerifier, clock: ManualClock, tmp_path: Path,
) -> None:
    firm_a, firm_b = unique_firm(), unique_firm()
    alerts = [customs_hold_alert(firm_a, f"SHP-2026-00010{i}") for i in range(3)]
    alerts += [customs_hold_alert(firm_b, "SHP-2026-000200")]
    async with alert_store.writing() as conn:
        assert len(await record_alerts(conn, alerts)) == 4
        assert await record_alerts(conn, alerts) == []  # the ledger refuses repeats
    delivery = worker(kafka_access, alert_store, operator, tmp_path / "chains", clock)
    await delivery.start()
    try:
        assert await delivery.run_once() == 4
        assert await delivery.run_once() == 0
    finally:
        await delivery.stop()
    on_a = await topic_records(kafka_access, firm_a)
    on_b = await topic_records(kafka_access, firm_b)
    assert [dict(r.headers)["ce_id"].decode() for r in on_a] == [a.alert_id for a in alerts[:3]]
    assert [dict(r.headers)["ce_source"].decode() for r in on_b] == [f"{PLATFORM_ORG}/alerts"]
    for record in on_a:
        env = verifier.check(record.key, record.value, record.headers, firm_a)
        assert env.data in alerts
    with pytest.raises(Exception, match="alert for"):
        verifier.check(on_b[0].key, on_b[0].value, on_b[0].headers, firm_a)


async def test_an_alert_sent_before_a_crash_is_found_not_sent_again(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey, clock: ManualClock,
    tmp_path: Path,
) -> None:
    firm = unique_firm()
    alert = customs_hold_alert(firm, "SHP-2026-000300")
    async with alert_store.writing() as conn:
        await record_alerts(conn, [alert])
    first = worker(kafka_access, alert_store, operator, tmp_path / "chains", clock)
    await first.start()
    assert await first.run_once() == 1
    await first.stop()
    # the crash: the broker has it, the store never heard (and the claim is stale)
    async with alert_store.writing() as conn:
        a = tables.alerts
        await conn.execute(update(a).values(delivered_at=None, claimed_by="gone",
                                            claimed_until="2000-01-01T00:00:00.000000Z"))
    second = worker(kafka_access, alert_store, operator, tmp_path / "chains", clock)
    await second.start()
    try:
        assert await second.run_once() == 1
    finally:
        await second.stop()
    records = await topic_records(kafka_access, firm)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [alert.alert_id]
    async with alert_store.reading() as conn:
        assert [a.alert_id for a in await alert_docs(conn, firm)] == [alert.alert_id]


async def test_an_alert_signed_and_sent_but_unacknowledged_is_not_resent(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey, clock: ManualClock,
    tmp_path: Path,
) -> None:
    firm = unique_firm()
    alert = customs_hold_alert(firm, "SHP-2026-000400")
    async with alert_store.writing() as conn:
        await record_alerts(conn, [alert])
    chains = tmp_path / "chains"
    first = worker(kafka_access, alert_store, operator, chains, clock)
    await first.start()
    await first.run_once()
    await first.stop()
    [sent] = await topic_records(kafka_access, firm)
    # the crash: the SDK's outbox still holds the record (its ack was never recorded)
    chain = ChainStore(chains, f"{PLATFORM_ORG}/alerts")
    head = chain.head()
    record = KafkaRecord(sent.topic, sent.key, sent.value, list(sent.headers))
    chain.reserve([(alert.alert_id, record, head.sequence, head.hash)])
    assert [p.event_id for p in chain.pending()] == [alert.alert_id]
    chain.close()
    second = worker(kafka_access, alert_store, operator, chains, clock)
    await second.start()  # would re-send the pending record, had the topic not had it
    await second.stop()
    assert len(await topic_records(kafka_access, firm)) == 1
    chain = ChainStore(chains, f"{PLATFORM_ORG}/alerts")
    assert chain.pending() == []
    chain.close()


async def test_an_alert_whose_send_failed_is_resent_once_not_signed_again(
    kafka_access: KafkaAccess, alert_store: AlertStore, operator: PrivateKey, clock: ManualClock,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send that failed in a running worker (a failover, found by the fault suite) leaves the
    alert pending in the publisher's outbox and back in the store's: the next attempt lets the
    publisher re-send that record and records where it landed; it never signs the alert again
    (that put it on the topic twice, under two sequences)."""
    firm = unique_firm()
    alert = customs_hold_alert(firm, "SHP-2026-000500")
    async with alert_store.writing() as conn:
        await record_alerts(conn, [alert])
    delivery = worker(kafka_access, alert_store, operator, tmp_path / "chains", clock)
    await delivery.start()
    try:
        sender = delivery._publisher._sender

        async def away(*_: object, **__: object) -> None:
            raise PublishError("the broker went away (test)")

        with monkeypatch.context() as patch:
            patch.setattr(sender, "send", away)
            with pytest.raises(PublishError):
                await delivery.run_once()
        assert await delivery.run_once() == 1
        assert await delivery.run_once() == 0
    finally:
        await delivery.stop()
    records = await topic_records(kafka_access, firm)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == [alert.alert_id]
    assert [int(dict(r.headers)["ce_sequence"]) for r in records] == [1]
    async with alert_store.reading() as conn:
        [doc] = await alert_docs(conn, firm)
    assert doc.alert_id == alert.alert_id
    async with alert_store.reading() as conn:
        row = (await conn.execute(select(tables.alerts.c.delivered_at, tables.alerts.c.log_offset)
                                  .where(tables.alerts.c.alert_id == alert.alert_id))).one()
    assert row.delivered_at is not None
    assert row.log_offset == records[0].offset
