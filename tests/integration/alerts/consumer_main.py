"""One view consumer process with the alerts plugin, for the kill -9 test.

    python -m tests.integration.alerts.consumer_main '<views config as JSON>' <chain state dir>

Runs ``run_views`` with the alerts (wall clock, delivery signed by the scenario's platform key)
until SIGTERM; the test SIGKILLs it at random moments.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from functools import partial
from pathlib import Path

from infra.logging import configure_logging
from tests.integration.views.consumer_main import decode

# The consumer's own modules are imported in ``_main``: its delivery process (a spawned
# process) imports this module again as its main, and would otherwise load the whole consumer.

DELIVERY_PROCESS = "EMINING_TEST_DELIVERY_PROCESS"
"""``1``: the delivery in a process of its own (``EMINING_ALERTS_DELIVERY_PROCESS=true``); else
in the consumer's event loop (``emining views run``'s default)."""
TIMER_S = "EMINING_TEST_ALERT_TIMER_S"
"""The deadline timer's interval (the tests': 0.2 s; the alerts benchmark: 30 s, as in
production, where the timer does not compete with the batches every 200 ms)."""


async def _main(config_json: str, state: Path) -> None:
    from consumers.alerts.clock import SystemClock  # noqa: PLC0415 - see the imports above
    from consumers.runner import run_views  # noqa: PLC0415
    from tests.integration.alerts.pipeline import plugin  # noqa: PLC0415

    config = decode(config_json)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    timer_s = float(os.environ.get(TIMER_S, "0.2"))
    await run_views(config, stop, alerts=plugin(
        config.kafka, SystemClock(), state, timer_s, own_process=own_process(),
        setup=partial(configure_logging, log_level(), "json")))


def own_process() -> bool:
    return os.environ.get(DELIVERY_PROCESS, "") == "1"


def log_level() -> str:
    return os.environ.get("EMINING_TEST_CONSUMER_LOG", "warning")


if __name__ == "__main__":
    from transport import eventloop

    configure_logging(log_level(), "json")
    eventloop.run(_main(sys.argv[1], Path(sys.argv[2])))
