"""Composition of the checkpointer and the witnesses: keys, trust anchor, the alarm's delivery."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from consumers.alerts.delivery import AlertDelivery
from consumers.alerts.store import AlertStore, record_alerts
from consumers.checkpoints.alarms import Alarm, alerts_for
from consumers.checkpoints.checkpointer import Checkpointer
from consumers.checkpoints.witness import Witness
from consumers.store import ViewStore
from infra.compose import sdk
from infra.compose.alerts import ensure_alert_topics
from infra.kafka_settings import kafka_access
from infra.settings import Settings
from schemas.registry import Registry
from schemas.signing import PrivateKey
from transport.errors import PublishError

log = structlog.get_logger("infra.compose.checkpoints")

ALARM_INSTANCE = "checkpoint"
"""The alert source of the checkpointer's alarms: ``<platform>/checkpoint``."""


async def raise_alarms(settings: Settings, alarms: Sequence[Alarm],
                       registry: Registry | None = None) -> None:
    """Platform alerts about ``alarms`` to the platform and every active organisation: into
    the alert outbox (the views store), then delivered at once by a delivery worker of its own
    (what it cannot deliver, the alerts service's worker delivers later). The recipients come
    from ``registry``, by default the registry on the log."""
    if registry is None:
        registry = await sdk.load_registry(settings)
    alerts = [alert for alarm in alarms for alert in alerts_for(alarm, registry)]
    store = AlertStore(ViewStore(settings.views_store_url))
    await store.open()
    try:
        async with store.writing() as conn:
            new = await record_alerts(conn, alerts)
        log.warning("log_alarm_alerts_recorded", count=len(new), alarms=len(alarms))

        async def ensure(org_ids: Sequence[str]) -> None:
            await ensure_alert_topics(settings, org_ids)

        delivery = AlertDelivery(store, key=sdk.operator_key(settings),
                                 kafka=kafka_access(settings), state_dir=settings.chain_dir,
                                 instance=ALARM_INSTANCE, ensure_topics=ensure,
                                 timeout_s=settings.client_timeout_s)
        try:
            await delivery.start()
            while await delivery.run_once():
                pass
        except (PublishError, OSError, TimeoutError) as exc:
            log.error("log_alarm_alerts_not_delivered", error=str(exc)[:300])  # noqa: TRY400
        finally:
            await delivery.stop()
    finally:
        await store.views.close()


def checkpointer(settings: Settings, *, every_seconds: float = 10.0,
                 every_records: int = 1000) -> Checkpointer:
    """The platform's checkpointer, signing with the operator's key."""

    async def alarm(alarms: Sequence[Alarm]) -> None:
        await raise_alarms(settings, alarms)

    async def registry() -> Registry:
        return await sdk.load_registry(settings)

    return Checkpointer(kafka_access(settings), sdk.operator_key(settings),
                        every_seconds=every_seconds, every_records=every_records,
                        timeout_s=settings.client_timeout_s, alarm=alarm, registry=registry,
                        anchors=sdk.trust_anchor(settings))


def witness(settings: Settings, key: PrivateKey, state_dir: Path | None = None) -> Witness:
    """``key.org``'s witness: checkpoints checked against the trust anchor, state under
    ``<state_dir>/witness/``."""
    return Witness(kafka_access(settings), key, platform_keys=sdk.trust_anchor(settings),
                   state_dir=state_dir or settings.state_dir,
                   timeout_s=settings.client_timeout_s)
