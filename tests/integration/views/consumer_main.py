"""One view consumer process for the crash and group tests.

    python -m tests.integration.views.consumer_main '<config as JSON>'

Runs ``consumers.runner.run_views`` (what ``emining views run`` runs) with the test's topics and
store, until SIGTERM; the tests also SIGKILL it at random moments. With
``EMINING_TEST_CONSUMER_ALERTS=<ISO time>`` it raises alerts too (``alerts_plugin``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consumers.config import ViewsConfig, ViewTopics
from schemas.timing import TimeBounds
from transport.access import KafkaAccess

if TYPE_CHECKING:
    from consumers.alerts.plugin import AlertsPlugin

# The consumer's own modules are imported where they are used, not here: a process the consumer
# starts with ``multiprocessing``'s spawn (the alerts' delivery process) imports this module
# again as its main, and would otherwise load the whole consumer (~40 MB). The verify worker
# (``consumers.verify_worker``) is a plain subprocess and imports only what it needs.


def encode(config: ViewsConfig) -> str:
    doc: dict[str, Any] = asdict(config)
    doc["trust_anchor"] = [base64.b64encode(k).decode() for k in config.trust_anchor]
    ca_file = config.kafka.ca_file
    doc["kafka"]["ca_file"] = None if ca_file is None else str(ca_file)
    bounds = config.time_bounds
    doc["time_bounds"] = [bounds.future.total_seconds(), bounds.past.total_seconds()]
    return json.dumps(doc)


def decode(text: str) -> ViewsConfig:
    doc = json.loads(text)
    doc["trust_anchor"] = tuple(base64.b64decode(k) for k in doc["trust_anchor"])
    doc["topics"] = ViewTopics(**doc["topics"])
    doc["time_bounds"] = TimeBounds.of_seconds(*doc["time_bounds"])
    ca_file = doc["kafka"]["ca_file"]
    doc["kafka"] = KafkaAccess(**doc["kafka"] | {"ca_file": ca_file and Path(ca_file)})
    return ViewsConfig(**doc)


ALERTS_CLOCK = "EMINING_TEST_CONSUMER_ALERTS"
"""Set to an ISO time: the consumer raises alerts too (no delivery), its clock held there."""


def alerts_plugin(at: str) -> AlertsPlugin:
    """The alerts plugin as the scale-out test runs it: rules, outbox and deadline timer, on a
    clock that never moves (so every run raises the same alerts), no delivery workers."""
    from consumers.alerts.clock import ManualClock  # noqa: PLC0415 - see the imports above
    from consumers.alerts.config import AlertConfig  # noqa: PLC0415
    from consumers.alerts.plugin import AlertsPlugin  # noqa: PLC0415
    from tests.integration.views import scenario  # noqa: PLC0415

    clock = ManualClock(datetime.fromisoformat(at))
    config = AlertConfig(customs=(scenario.CUSTOMS,), facilitation=(), border=())
    return AlertsPlugin(config, clock, None, timer_interval_s=0.2)


async def _main(config: ViewsConfig) -> None:
    from consumers.runner import run_views  # noqa: PLC0415 - see the imports above

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    at = os.environ.get(ALERTS_CLOCK)
    await run_views(config, stop, alerts=alerts_plugin(at) if at else None)


if __name__ == "__main__":
    from infra.logging import configure_logging
    from transport import eventloop

    configure_logging(os.environ.get("EMINING_TEST_CONSUMER_LOG", "warning"), "json")
    eventloop.run(_main(decode(sys.argv[1])))
