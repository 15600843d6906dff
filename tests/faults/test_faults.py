"""The fault suite (issue 20): clients publish continuously through five faults of a three-node
cluster; nothing acknowledged is lost or doubled, chains stay intact, every client recovers,
and every alert the events raise reaches its recipient's topic exactly once.

The scenarios run in one child process inside a fresh network namespace (``unshare -n``, as
root): ``tests/faults/harness.py`` says how. Its figures land in ``build/faults/*.json``;
``python -m tests.faults.table`` prints the README's table from them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import no_kafka
from tests.faults.harness import CLIENTS, SCENARIOS
from tests.faults.table import OUT, rows

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SUITE_BOUND_S = 600.0
RECOVERY_BOUND_S = 90.0
"""Fault to a client's first acknowledgement after its last failure: measured up to ~45 s for a
full stop and start (three JVMs on two busy cores); twice that is a hung client, not a slow one."""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    missing = [tool for tool in ("ip", "unshare", "nsenter") if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        no_kafka([(f"the fault suite makes network namespaces: it needs root and ip/unshare/"
                   f"nsenter (uid {os.geteuid()}, missing {missing or 'none'})")])
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    root = tmp_path_factory.mktemp("faults")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMINING_KAFKA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    started = time.monotonic()
    with (OUT / "harness.log").open("w") as log:
        done = subprocess.run(
            ["unshare", "-n", sys.executable, "-m", "tests.faults.harness",
             "--out", str(OUT), "--root", str(root)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=SUITE_BOUND_S,
            check=False)
    took = time.monotonic() - started
    tail = "\n".join((OUT / "harness.log").read_text(errors="replace").splitlines()[-40:])
    assert done.returncode == 0, f"the fault harness exited {done.returncode}:\n{tail}"
    found = {name: json.loads((OUT / f"{name}.json").read_text()) for name in SCENARIOS}
    table = "\n".join(rows(list(found.values())))
    (OUT / "table.md").write_text(table + "\n")
    sys.stdout.write(f"\nfault suite: {took:.0f} s\n{table}\n")
    return found


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_acknowledged_event_is_lost_or_doubled(
    results: dict[str, dict[str, Any]], name: str
) -> None:
    result = results[name]
    assert not result["client_crashes"], result["client_crashes"]
    assert not result["clients_stuck"], result["clients_stuck"]
    for client in CLIENTS:
        figures = result["clients"][client]
        assert figures["acknowledged"] > 0, (client, figures)
        assert figures["lost"] == 0, (client, figures)
        assert figures["duplicated"] == 0, (client, figures)
        # Every send whose caller was told it failed is on the log once or not at all.
        assert (figures["failed_then_landed_once"] + figures["failed_not_on_log"]
                == figures["reported_failed"]), (client, figures)
    assert result["log"]["duplicate_ids"] == 0
    assert result["log"]["duplicate_source_sequences"] == 0


@pytest.mark.parametrize("name", SCENARIOS)
def test_chains_and_order_stay_intact(results: dict[str, dict[str, Any]], name: str) -> None:
    audit = results[name]["audit"]
    assert audit["ok"], audit


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_live_views_equal_a_rebuild(results: dict[str, dict[str, Any]], name: str) -> None:
    """The views consumer ran through every fault; caught up, its views are what a replay from
    offset 0 makes of the log (each event applied once)."""
    views = results[name]["views"]
    assert views["caught_up"], views
    assert views["equal_to_rebuild"], views


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_alert_exactly_once(results: dict[str, dict[str, Any]], name: str) -> None:
    """The views consumer ran the alerts as ``emining views run`` does: every alert the customs
    holds on the log raise (customs and the exporter, rule ``customs_hold``) is on its
    recipient's topic exactly once, verified under the platform key; no other alert is there
    but security alerts for records held for a gap that then closed (measured apart)."""
    alerts = results[name]["alerts"]
    assert alerts["expected"] > 0, alerts
    assert alerts["expected"] == 2 * alerts["trigger_events"], alerts
    assert alerts["delivered"] == alerts["expected"], alerts
    assert alerts["missing"] == 0, alerts
    assert alerts["duplicated"] == 0, alerts
    assert alerts["extra"] == 0, alerts
    assert alerts["unverified"] == 0, alerts
    assert alerts["outbox"]["undelivered"] == 0, alerts


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_client_recovers_on_its_own_in_bounded_time(
    results: dict[str, dict[str, Any]], name: str
) -> None:
    result = results[name]
    assert result["all_recovered"], result["clients"]
    for client in CLIENTS:
        recovery = result["clients"][client]["recovery_s"]
        assert recovery is not None, client
        assert recovery <= RECOVERY_BOUND_S, (client, recovery)
