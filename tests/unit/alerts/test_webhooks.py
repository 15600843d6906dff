"""Webhooks against a real local HTTP receiver: signature, idempotency id, backoff, then DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from consumers.alerts import outbox
from consumers.alerts.channel import Channel, Outcome, RetryPolicy
from consumers.alerts.channel_worker import ChannelSender, ChannelWorker
from consumers.alerts.clock import ManualClock
from consumers.alerts.render import alert_of
from consumers.alerts.rules_events import event_notices
from consumers.alerts.store import AlertStore, Delivered, mark_delivered, record_alerts
from consumers.alerts.webhook_targets import TargetPolicy
from consumers.alerts.webhooks import (
    ALERT_ID_HEADER,
    ID_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK,
    Webhook,
    new_secret,
    signature_valid,
    signed_headers,
)
from consumers.store import ViewStore
from schemas.alerts import AlertRaised
from schemas.events import LicenceGranted
from tests.unit.alerts.receiver import receiver
from tests.unit.alerts.world import HUAYE, MCC, NOW, context, fact
from tests.unit.helpers import example

SOURCE = "urn:emining:xx:platform:operator/alerts"
LOCAL = TargetPolicy.allowing(["127.0.0.1"])
"""The test receivers listen on loopback: allowed by name, as an operator would."""


async def _public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


PUBLIC = TargetPolicy(resolver=_public)
"""Names resolve to a public address (no DNS in the tests)."""


async def add_webhook(conn: AsyncConnection, org: str, url: str, now: datetime,
                      targets: TargetPolicy) -> Webhook:
    """What ``AlertsService.add_target("webhook", …)`` does, in the caller's transaction."""
    await targets.check(url)
    secret, options = WEBHOOK.configured(None, {})
    return await outbox.add_target(conn, WEBHOOK.tables, org, url, secret, options, now)


async def list_webhooks(conn: AsyncConnection, org: str) -> list[Webhook]:
    return await outbox.list_targets(conn, WEBHOOK.tables, org)


async def remove_webhook(conn: AsyncConnection, org: str, hook_id: str, now: datetime) -> bool:
    return await outbox.remove_target(conn, WEBHOOK.tables, org, hook_id, now)


async def delivery_status(conn: AsyncConnection, alert_id: str) -> dict[str, tuple[str, int]]:
    return await outbox.delivery_status(conn, WEBHOOK.tables, alert_id)


def webhook_sender(client: httpx.AsyncClient, policy: RetryPolicy | None = None,
                   **kwargs: Any) -> ChannelSender:
    return ChannelSender(WEBHOOK, client, policy, **kwargs)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class DeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, str, bytes, str]] = []

    async def dead(self, channel: Channel, webhook: Webhook, alert_id: str, body: bytes,
                   reason: str) -> None:
        assert channel is WEBHOOK
        self.letters.append((webhook.id, alert_id, body, reason))


@pytest.fixture
async def store(tmp_path: Path) -> AlertStore:
    alerts = AlertStore(ViewStore(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    await alerts.open()
    yield alerts
    await alerts.views.close()


def granted_alert() -> AlertRaised:
    [notice] = event_notices(fact(example(LicenceGranted)), context())
    return alert_of(notice, context().directory, NOW)


async def queue(store: AlertStore, alert: AlertRaised) -> None:
    async with store.writing() as conn:
        assert await record_alerts(conn, [alert]) == [alert.alert_id]
        await mark_delivered(conn, [Delivered(alert.alert_id, alert.destination_topic(), 0, 7)],
                             NOW)


async def worker(store: AlertStore, client: httpx.AsyncClient, sleeps: Sleeps,
                 dead: DeadLetters, attempts: int = 4) -> ChannelWorker:
    sender = webhook_sender(client, RetryPolicy(attempts=attempts, base_s=0.5, factor=2.0),
                           sleep=sleeps, targets=LOCAL)
    return ChannelWorker(store, sender, dead, source=SOURCE, clock=ManualClock(NOW))


async def test_webhook_gets_signed_alert_with_its_id_after_retries(store: AlertStore) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver(503, 500) as hook_server:
        async with store.writing() as conn:
            hook = await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
            await add_webhook(conn, HUAYE, hook_server.url + "/other", NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            settled = await (await worker(store, client, sleeps, dead)).run_once()
    assert settled == 1  # only MCC's webhook: HUAYE's is not the recipient
    assert sleeps.delays == [0.5, 1.0]
    assert len(hook_server.requests) == 3
    last = hook_server.requests[-1]
    assert last.path == "/hooks/alerts"
    assert last.headers[ALERT_ID_HEADER] == alert.alert_id
    assert last.headers[ID_HEADER] == alert.alert_id
    assert last.headers[SIGNATURE_HEADER].startswith("v1,")
    assert signature_valid(hook.secret, last.body, last.headers)
    assert not signature_valid(new_secret(), last.body, last.headers)
    assert not signature_valid(hook.secret, last.body + b" ", last.headers)
    event = json.loads(last.body)
    assert (event["id"], event["source"], event["type"], event["subject"]) == (
        alert.alert_id, SOURCE, "pk.emining.alert.raised.v1", "BA-EL-2025-0153")
    assert AlertRaised.model_validate(event["data"]) == alert
    assert dead.letters == []
    async with store.reading() as conn:
        assert await delivery_status(conn, alert.alert_id) == {hook.id: ("delivered", 3)}


async def test_webhook_that_keeps_failing_goes_to_the_dlq_with_its_reason(
    store: AlertStore,
) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver(500, 502, 503, 504, 500) as hook_server:
        async with store.writing() as conn:
            hook = await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            run = await worker(store, client, sleeps, dead)
            assert await run.run_once() == 1
            assert await run.run_once() == 0  # settled: never sent again
    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert len(hook_server.requests) == 4
    [(webhook_id, alert_id, body, reason)] = dead.letters
    assert (webhook_id, alert_id) == (hook.id, alert.alert_id)
    assert json.loads(body)["id"] == alert.alert_id
    assert reason == "4 attempt(s), last: HTTP 504"
    async with store.reading() as conn:
        assert await delivery_status(conn, alert.alert_id) == {hook.id: ("dead", 4)}


async def test_a_permanent_refusal_is_not_retried(store: AlertStore) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver(410) as hook_server:
        async with store.writing() as conn:
            await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            await (await worker(store, client, sleeps, dead)).run_once()
    assert (len(hook_server.requests), sleeps.delays) == (1, [])
    assert dead.letters[0][3] == "1 attempt(s), last: HTTP 410"


async def test_an_unreachable_receiver_is_retried_then_dead_lettered(store: AlertStore) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver() as hook_server:
        closed = hook_server.url
    async with store.writing() as conn:
        await add_webhook(conn, MCC, closed, NOW, LOCAL)
    await queue(store, alert)
    async with httpx.AsyncClient() as client:
        await (await worker(store, client, sleeps, dead, attempts=2)).run_once()
    assert sleeps.delays == [0.5]
    assert dead.letters[0][3].startswith("2 attempt(s), last: ConnectError")


async def test_webhooks_are_listed_and_removed_per_organisation(store: AlertStore) -> None:
    async with store.writing() as conn:
        hook = await add_webhook(conn, MCC, "https://firm.example/alerts", NOW, PUBLIC)
        assert hook.secret.startswith("whsec_")
        assert not await remove_webhook(conn, HUAYE, hook.id, NOW)  # not HUAYE's to remove
        assert [h.id for h in await list_webhooks(conn, MCC)] == [hook.id]
        assert await remove_webhook(conn, MCC, hook.id, NOW)
        assert await list_webhooks(conn, MCC) == []


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(base_s=1, factor=2, max_s=10)
    assert [policy.delay(n) for n in range(1, 6)] == [1, 2, 4, 8, 10]


@pytest.mark.parametrize(("status", "retried"), [
    (408, True), (425, True), (429, True), (500, True),
    (400, False), (401, False), (404, False), (422, False),
])
async def test_timeouts_and_throttling_are_retried_other_client_errors_are_not(
    status: int, retried: bool,
) -> None:
    sleeps = Sleeps()
    hook = Webhook("hook-1", MCC, "", new_secret())
    with receiver(status) as hook_server:  # then 200
        async with httpx.AsyncClient() as client:
            sender = webhook_sender(client, RetryPolicy(attempts=3, base_s=0.5), sleep=sleeps,
                                   targets=LOCAL)
            outcome = await sender.deliver(Webhook(hook.id, hook.org, hook_server.url,
                                                   hook.secret), "alert-1", b"{}")
    if retried:
        assert outcome == Outcome(delivered=True, attempts=2, status=200)
        assert (len(hook_server.requests), sleeps.delays) == (2, [0.5])
    else:
        assert outcome == Outcome(delivered=False, attempts=1, error=f"HTTP {status}",
                                  status=status)
        assert (len(hook_server.requests), sleeps.delays) == (1, [])


@pytest.mark.parametrize("attempts", [1, 2, 5])
async def test_a_failing_receiver_gets_exactly_the_policys_attempts_with_capped_waits(
    attempts: int,
) -> None:
    sleeps = Sleeps()
    with receiver(*[503] * 10) as hook_server:
        async with httpx.AsyncClient() as client:
            sender = webhook_sender(client, RetryPolicy(attempts=attempts, base_s=1, factor=3,
                                                       max_s=5), sleep=sleeps, targets=LOCAL)
            outcome = await sender.deliver(Webhook("hook-1", MCC, hook_server.url,
                                                   new_secret()), "alert-1", b"{}")
    assert outcome == Outcome(delivered=False, attempts=attempts, error="HTTP 503", status=503)
    assert len(hook_server.requests) == attempts
    assert sleeps.delays == [1, 3, 5, 5][:attempts - 1]


async def test_a_policy_of_no_attempts_sends_nothing() -> None:
    sleeps = Sleeps()
    with receiver() as hook_server:
        async with httpx.AsyncClient() as client:
            sender = webhook_sender(client, RetryPolicy(attempts=0), sleep=sleeps, targets=LOCAL)
            outcome = await sender.deliver(Webhook("hook-1", MCC, hook_server.url,
                                                   new_secret()), "alert-1", b"{}")
    assert outcome == Outcome(delivered=False, attempts=0, error="not attempted")
    assert (hook_server.requests, sleeps.delays) == ([], [])


async def _hook_in_store(store: AlertStore, org: str, url: str) -> str:
    """A webhook written straight to the table, as one registered before URLs were checked."""
    hook_id = f"legacy-{len(url)}"
    async with store.writing() as conn:
        await conn.execute(WEBHOOK.tables.targets.insert().values(
            id=hook_id, org=org, url=url, secret=new_secret(), active=True,
            created_at="2026-01-01T00:00:00Z"))
    return hook_id


async def test_a_hostile_webhook_cannot_stop_the_worker_nor_reach_an_internal_address(
    store: AlertStore,
) -> None:
    """The URL that killed `views run` (a control character) and one to the metadata service,
    both already in the store: each is dead-lettered as refused, the worker goes on, and the
    well-behaved webhook beside them gets its alert."""
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    bad = await _hook_in_store(store, MCC, "https://\x0bx")
    metadata = await _hook_in_store(store, MCC, "http://169.254.169.254/latest/meta-data/")
    with receiver() as good_server:
        async with store.writing() as conn:
            good = await add_webhook(conn, MCC, good_server.url, NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            run = await worker(store, client, sleeps, dead)
            assert await run.run_once() == 3
            assert await run.run_once() == 0
    assert len(good_server.requests) == 1
    reasons = {letter[0]: letter[3] for letter in dead.letters}
    assert set(reasons) == {bad, metadata}
    assert "U+000B" in reasons[bad]
    assert "link-local" in reasons[metadata]
    assert sleeps.delays == []  # a refused target is not retried
    async with store.reading() as conn:
        assert await delivery_status(conn, alert.alert_id) == {
            good.id: ("delivered", 1), bad: ("dead", 1), metadata: ("dead", 1)}
        health = await outbox.health(conn, WEBHOOK.tables, MCC)  # what the owner sees listing
    assert (health[bad].dead, health[good.id].delivered) == (1, 1)
    assert "U+000B" in (health[bad].last_error or "")


async def test_a_removed_webhook_gets_nothing_more_not_even_what_was_queued(
    store: AlertStore,
) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver() as hook_server:
        async with store.writing() as conn:
            hook = await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
        await queue(store, alert)  # queued for the webhook
        async with store.writing() as conn:
            assert await remove_webhook(conn, MCC, hook.id, NOW)
        async with httpx.AsyncClient() as client:
            assert await (await worker(store, client, sleeps, dead)).run_once() == 0
    assert hook_server.requests == []
    async with store.reading() as conn:
        assert await delivery_status(conn, alert.alert_id) == {hook.id: ("cancelled", 0)}


async def test_a_webhook_removed_after_its_delivery_was_claimed_is_not_called(
    store: AlertStore,
) -> None:
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver() as hook_server:
        async with store.writing() as conn:
            hook = await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            run = await worker(store, client, sleeps, dead)
            jobs = await run._claim()
            async with store.writing() as conn:
                await remove_webhook(conn, MCC, hook.id, NOW)
            outcomes = [await run._one(job) for job in jobs]
            await run._record(outcomes)
    assert hook_server.requests == []
    assert [status for _, status, _, _ in outcomes] == ["cancelled"]
    async with store.reading() as conn:
        assert (await delivery_status(conn, alert.alert_id))[hook.id][0] == "cancelled"


def test_a_captured_call_replayed_later_fails_verification() -> None:
    secret, body = new_secret(), b'{"id":"a1"}'
    fresh = signed_headers(secret, "a1", body, datetime.now(UTC))
    assert signature_valid(secret, body, fresh)
    old = signed_headers(secret, "a1", body, datetime.now(UTC) - timedelta(minutes=10))
    assert not signature_valid(secret, body, old)
    forged = {**fresh, "webhook-timestamp": str(int(datetime.now(UTC).timestamp()) + 1)}
    assert not signature_valid(secret, body, forged)  # the timestamp is signed too


async def test_a_delivery_claimed_by_a_worker_that_died_is_sent_once_after_its_lease(
    store: AlertStore,
) -> None:
    """Queued in the alert's transaction, claimed, then the worker dies before sending: nothing
    is lost (another worker sends it once the lease ended) and nothing is sent twice."""
    alert, sleeps, dead = granted_alert(), Sleeps(), DeadLetters()
    with receiver() as hook_server:
        async with store.writing() as conn:
            hook = await add_webhook(conn, MCC, hook_server.url, NOW, LOCAL)
        await queue(store, alert)
        async with httpx.AsyncClient() as client:
            died = await worker(store, client, sleeps, dead)
            assert [j.alert.alert_id for j in await died._claim()] == [alert.alert_id]
            clock = ManualClock(NOW)
            sender = webhook_sender(client, targets=LOCAL, sleep=sleeps)
            after = ChannelWorker(store, sender, dead, source=SOURCE, clock=clock,
                                  lease=timedelta(minutes=30))
            assert await after.run_once() == 0  # still leased to the worker that died
            clock.advance(timedelta(minutes=31))
            assert await after.run_once() == 1
            assert await after.run_once() == 0
    assert [r.headers[ID_HEADER] for r in hook_server.requests] == [alert.alert_id]
    async with store.reading() as conn:
        assert await delivery_status(conn, alert.alert_id) == {hook.id: ("delivered", 1)}
