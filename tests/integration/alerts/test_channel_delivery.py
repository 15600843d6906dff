"""Push channels behind the real broker, with the workers ``infra`` composes from the registry.

An alert published to its recipient's topic is queued, in the same transaction, on every
registered channel; the workers ``infra.compose.alerts.channel_workers`` builds (one per registered
channel, none named in ``infra``) POST it to the recipient's webhook, not to another
organisation's, and a refused delivery goes to the real DLQ with its organisation.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from consumers.alerts.channels import CHANNELS
from consumers.alerts.clock import ManualClock
from consumers.alerts.config import AlertConfig
from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.directory import Directory
from consumers.alerts.service import AlertsService
from consumers.alerts.store import AlertStore, record_alerts
from consumers.alerts.webhooks import ALERT_ID_HEADER, signature_valid
from infra.compose import alerts as alerts_wiring
from infra.kafka_admin.topics import TopicChange
from schemas.registry import Registry
from schemas.signing import PrivateKey
from schemas.topics import DLQ
from tests.integration.alerts.conftest import customs_hold_alert, ensure, unique_firm
from tests.kafka_support import settings_for
from tests.unit.alerts.receiver import receiver
from transport.access import KafkaAccess
from transport.read import ends_of, read_to_end
from transport.sender import RecordSender

pytestmark = pytest.mark.integration


async def test_the_composed_channel_workers_deliver_what_the_kafka_delivery_queued(
    kafka_access: KafkaAccess, catalogue_applied: list[TopicChange], alert_store: AlertStore,
    operator: PrivateKey, clock: ManualClock, tmp_path: Path,
) -> None:
    firm, other = unique_firm(), unique_firm()
    alert = customs_hold_alert(firm, "SHP-2026-000901")
    settings = settings_for(kafka_access, state_dir=tmp_path / "state",
                            webhook_allow_hosts="127.0.0.1")
    service = AlertsService(alert_store, lambda: Directory(Registry(), AlertConfig()), clock,
                            targets=alerts_wiring.webhook_targets(settings))

    async def ensure_topics(orgs: list[str]) -> None:
        await ensure(kafka_access, orgs)

    with receiver() as good, receiver(410) as gone, receiver() as elsewhere:
        hook = await service.add_webhook(firm, good.url)
        refused = await service.add_webhook(firm, gone.url)
        await service.add_webhook(other, elsewhere.url)
        async with alert_store.writing() as conn:
            assert await record_alerts(conn, [alert]) == [alert.alert_id]
        delivery = AlertDelivery(alert_store, key=operator, kafka=kafka_access,
                                 state_dir=tmp_path / "chains", ensure_topics=ensure_topics)
        await delivery.start()
        try:
            assert await delivery.run_once() == 1  # on the topic, and queued on each channel
        finally:
            await delivery.stop()
        dlq_start = await ends_of(kafka_access, [DLQ])
        async with httpx.AsyncClient() as client, RecordSender(kafka_access) as sender:
            workers = alerts_wiring.channel_workers(settings, alert_store, clock, client, sender)
            assert [w.channel.name for w in workers] == [c.name for c in CHANNELS]
            settled = {w.channel.name: await w.run_once() for w in workers}
            assert settled["webhook"] == 2
            assert sum(settled.values()) == 2  # nothing else was registered
            assert [await w.run_once() for w in workers] == [0] * len(workers)
    [call] = good.requests
    assert call.headers[ALERT_ID_HEADER] == alert.alert_id
    assert signature_valid(hook.secret, call.body, call.headers)
    assert json.loads(call.body)["data"]["recipient"] == firm
    assert len(gone.requests) == 1  # 410: refused for good, not retried
    assert elsewhere.requests == []  # another organisation's webhook hears nothing
    wanted = f"webhook:{refused.id}:{alert.alert_id}".encode()
    letters = [r async for batch in read_to_end(kafka_access, [DLQ], start=dlq_start)
               for r in batch if dict(r.headers).get("dlq_id") == wanted]
    [letter] = letters
    headers = {k: v.decode() for k, v in letter.headers}
    assert (headers["dlq_org"], headers["dlq_reason"], headers["dlq_url"]) == (
        firm, "webhook_failed", gone.url)
    assert headers["dlq_detail"] == "1 attempt(s), last: HTTP 410"
    assert json.loads(letter.value)["id"] == alert.alert_id
    health = await service.webhooks(firm)
    assert {(h.id, s.delivered, s.dead) for h, s in health} == {
        (hook.id, 1, 0), (refused.id, 0, 1)}
