"""No duplicate alert after kill -9: a consumer with the alerts, SIGKILLed mid-batch, restarted.

Every alert id ends up on its recipient's topic exactly once, and none is missing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumers.config import ViewsConfig, ViewTopics
from producers.publisher import Draft
from tests.integration.alerts.consumer_main import DELIVERY_PROCESS
from tests.integration.alerts.pipeline import FIRM, alerts_since, ends, ledger, settled
from tests.integration.views import scenario
from tests.integration.views.bus import Bus
from tests.integration.views.conftest import config_for
from tests.integration.views.consumer_main import encode
from transport.access import KafkaAccess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HOLDS = 1000
KILLS = 6


async def _ledger(store_url: str) -> tuple[int, int]:
    try:
        return await ledger(store_url)
    except Exception:  # noqa: BLE001 - no tables yet: the first process had not made them
        return (0, 0)


def spawn(config: ViewsConfig, state: Path, log: Path, delivery: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.alerts.consumer_main", encode(config),
             str(state)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1",
                 DELIVERY_PROCESS: "1" if delivery == "process" else "0"})


@pytest.mark.parametrize("delivery", ["loop", "process"])
async def test_no_alert_is_lost_or_sent_twice_across_kill_9(
    kafka_access: KafkaAccess, view_topics: ViewTopics, bus: Bus, tmp_path: Path, delivery: str,
) -> None:
    """``process``: the delivery runs in a child process, which the kill leaves running until
    it sees the consumer gone (its pipe's end of file) and ends its round, while the next
    consumer starts the next child: the chain's lock lets one sign at a time."""
    start = await ends(kafka_access, [FIRM, scenario.CUSTOMS])
    now = datetime.now(UTC)
    holds = [Draft(scenario.event("pk.emining.shipment.customs.held",
                                  shipment_id=f"SHP-2026-{700000 + i:06d}"),
                   event_id=f"evt-hold-{i:04d}", time=now) for i in range(HOLDS)]
    customs = await bus.publisher(scenario.CUSTOMS)
    for chunk in range(0, HOLDS, 50):
        await customs.publish_many(holds[chunk:chunk + 50])
    store_url = f"sqlite:///{tmp_path / 'views.sqlite'}"
    config = config_for(kafka_access, view_topics, store_url, batch_size=20)
    state, log, rng = tmp_path / "alert-chains", tmp_path / "consumer.log", random.Random(6)
    raised_when_killed: list[tuple[int, int]] = []
    for _ in range(KILLS):
        before = await _ledger(store_url)
        process = spawn(config, state, log, delivery)
        for _ in range(400):  # until it is raising or delivering alerts
            if await _ledger(store_url) != before or process.poll() is not None:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(rng.uniform(0.0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        raised_when_killed.append(await _ledger(store_url))
    process = spawn(config, state, log, delivery)
    try:
        await settled(store_url, 2 * HOLDS, timeout_s=120)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    on_firm = await alerts_since(kafka_access, FIRM, start[FIRM])
    on_customs = await alerts_since(kafka_access, scenario.CUSTOMS, start[scenario.CUSTOMS])
    copies = Counter(a.alert_id for a in on_firm + on_customs)
    assert len(copies) == 2 * HOLDS, "an alert is missing"
    assert set(copies.values()) == {1}, f"sent twice: {[i for i, n in copies.items() if n > 1]}"
    assert {a.about for a in on_firm} == {f"SHP-2026-{700000 + i:06d}" for i in range(HOLDS)}
    mid_run = [r for r in raised_when_killed if r != (2 * HOLDS, 2 * HOLDS)]
    assert len(mid_run) >= KILLS // 2, f"kills did not land mid-run: {raised_when_killed}"
