"""`emining import` survives its broker being SIGKILLed mid-file (issue 14).

The import exits non-zero within its bound (twice the client timeout) plus a small margin; its
one error line names the acknowledged line ranges; those rows are on the log (read back after the
broker is restarted), and any other row found there is one the line reports as in doubt; a re-run
of the same file publishes the rest and nothing twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from typer.testing import CliRunner

from infra import local_kafka
from infra.cli import app
from infra.cli.publish import _with_id
from infra.kafka_admin.topics import apply_topics
from infra.kafka_settings import kafka_access
from producers.bulk import Row, read_rows
from schemas.catalogue import model_for
from schemas.topics import PROJECTS, catalogue
from tests.conftest import own_broker
from tests.integration.publishing.conftest import read_all
from tests.kafka_support import access_env
from transport.access import KafkaAccess
from transport.meta import partitions_of

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FIRM = "urn:emining:cn:ent:mcc-resources"
FIRM_USCC = "91650100MA7XK3P2LA"
ROWS = 6000
CLIENT_TIMEOUT_S = 3.0
BOUND_S = 2 * CLIENT_TIMEOUT_S
MARGIN_S = 3.0
"""Process exit, interpreter teardown and the poll that notices the exit."""
KILL_AFTER = 1200
"""Records on the topic before the broker is killed: mid-file, a few batches in."""


def _say(text: str) -> None:
    """Measured times, for ``pytest -s`` (the report of issue 14 quotes them)."""
    sys.stdout.write(text + "\n")


def _env(access: KafkaAccess, state: Path) -> dict[str, str]:
    return {**access_env(access), "EMINING_STATE_DIR": str(state),
            "EMINING_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S)}


def _cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def _onboard(env: dict[str, str], keys: Path) -> Path:
    _cli(env, "participants", "init")
    key = Path(json.loads(_cli(env, "keys", "new", "--org", FIRM, "--out", str(keys),
                               "--json"))["file"])
    _cli(env, "participants", "add", "--org", FIRM, "--name-en", "MCC Chagai", "--side", "CN",
         "--role", "firm", "--uscc", FIRM_USCC, "--key-file", str(key))
    _cli(env, "participants", "grant", "--org", FIRM, "--grant-id", "own", "--type",
         "pk.emining.project.*", "--own-only")
    return key


def _write_rows(path: Path) -> dict[int, str]:
    """``ROWS`` rows without ids; line → the event id the import derives for it."""
    base = model_for("pk.emining.project.stage.changed").EXAMPLE
    path.write_text("".join(
        json.dumps({"type": "pk.emining.project.stage.changed",
                    "data": {**base, "project_id": f"PRJ-BA-CHG-{i + 1:04d}"}}) + "\n"
        for i in range(ROWS)))
    ids: dict[int, str] = {}
    for item in read_rows(path, None):
        assert isinstance(item, Row)
        event_id = _with_id(FIRM, item).draft.event_id
        assert event_id is not None
        ids[item.line] = event_id
    assert len(set(ids.values())) == ROWS
    return ids


def _import(env: dict[str, str], path: Path, key: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from infra.cli import main; main()", "import", str(path),
         "--as", FIRM, "--key", str(key), "--json"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def _ranges(text: str) -> set[int]:
    """``1-500, 1001`` → {1, ..., 500, 1001}."""
    lines: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        lines.update(range(int(first), int(last or first) + 1))
    return lines


async def _kill_when(access: KafkaAccess, settings: object, process: subprocess.Popen[str],
                     at: int) -> float:
    """SIGKILL the broker once ``at`` records are on the topic; when it was killed."""
    consumer = AIOKafkaConsumer(**access.aiokafka(), request_timeout_ms=2000)
    await consumer.start()
    try:
        tps = [TopicPartition(PROJECTS, p) for p in await partitions_of(access, PROJECTS)]
        deadline = time.monotonic() + 60
        while sum((await consumer.end_offsets(tps)).values()) < at:
            assert process.poll() is None, "the import finished before the broker was killed"
            assert time.monotonic() < deadline, "the import did not get going"
            await asyncio.sleep(0.01)
        pid = local_kafka.status(settings).pid  # type: ignore[arg-type]
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        return time.monotonic()
    finally:
        await consumer.stop()


def _ids_on_log(access: KafkaAccess) -> Counter[str]:
    return Counter(dict(r.headers)["ce_id"].decode()
                   for r in asyncio.run(read_all(access, PROJECTS)))


def test_import_stops_within_its_bound_names_what_landed_and_a_rerun_completes_it(
        tmp_path: Path) -> None:
    """Sync: the CLI runs its own event loop (``asyncio.run``)."""
    with own_broker(tmp_path / "kafka", what="killable") as settings:
        access = kafka_access(settings)
        asyncio.run(apply_topics(access, catalogue(3), timeout_s=15.0))
        env = _env(access, tmp_path / "state")
        key = _onboard(env, tmp_path / "keys")
        path = tmp_path / "rows.jsonl"
        ids = _write_rows(path)
        line_of = {event_id: line for line, event_id in ids.items()}

        process = _import(env, path, key)
        try:
            killed = asyncio.run(_kill_when(access, settings, process, KILL_AFTER))
            while process.poll() is None and time.monotonic() - killed < 30:
                time.sleep(0.05)
            took = time.monotonic() - killed
        finally:
            if process.poll() is None:
                process.kill()  # it spun past its bound: the failure below says so
            _, err = process.communicate(timeout=10)
        _say(f"import exited {took:.2f} s after the broker was killed (bound {BOUND_S:g} s)")
        assert process.returncode == 1, err
        assert took <= BOUND_S + MARGIN_S, f"{took:.1f} s after the kill: {err}"
        assert "error: " in err, err
        message = " ".join(err[err.rindex("error: "):].split())  # after aiokafka's log lines
        found = re.search(r"Acknowledged: \d+ row\(s\) \(lines ([0-9, -]+)\)", message)
        assert found, message
        acknowledged = _ranges(found.group(1))
        assert len(acknowledged) >= KILL_AFTER // 2, message
        doubt = re.search(r"in doubt: \d+ row\(s\) \(lines ([0-9, -]+|none)\)", message)
        in_doubt = _ranges(doubt.group(1)) if doubt and doubt.group(1) != "none" else set()
        _say(message)

        local_kafka.up(settings, owner_pid=os.getpid())
        on_log = _ids_on_log(access)
        assert set(on_log.values()) == {1}
        landed = {line_of[event_id] for event_id in on_log}
        assert acknowledged <= landed, "a row reported acknowledged is not on the log"
        assert landed - acknowledged <= in_doubt, "a row on the log was reported as not sent"
        _say(f"acknowledged {len(acknowledged)}, in doubt {len(in_doubt)} of which on the log"
             f" {len(landed - acknowledged)}")

        started = time.monotonic()
        rerun = _import(env, path, key)
        out, err = rerun.communicate(timeout=60)
        assert rerun.returncode == 0, err
        summary = json.loads(out)
        _say(f"re-run took {time.monotonic() - started:.2f} s: {summary}")
        on_log = _ids_on_log(access)
        assert set(on_log.values()) == {1}, "an event is on the log twice"
        assert set(on_log) == set(ids.values())
        assert sum(on_log.values()) == ROWS
        assert summary["published"] + summary["already_published"] == ROWS
