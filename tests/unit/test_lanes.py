"""``tests/lanes.py`` (what ``make test`` runs): exit statuses and signals, with a stand-in pytest
that says which lane it is and how it was stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = """#!{python}
import os, signal, sys, time
from pathlib import Path
lane = "a" if "tests/faults" in sys.argv else "b"
out = Path(os.environ["FAKE_OUT"])
(out / f"args-{{lane}}").write_text("\\n".join(sys.argv[1:]))
def interrupted(signum, frame):
    with (out / f"sigint-{{lane}}").open("a") as f:
        f.write("x")
    time.sleep(0.3)  # a fixture stopping its broker
    sys.exit(2)
signal.signal(signal.SIGINT, interrupted)
print(f"lane {{lane}} running", flush=True)
time.sleep(float(os.environ.get(f"FAKE_SLEEP_{{lane}}", "0")))
sys.exit(int(os.environ.get(f"FAKE_RC_{{lane}}", "0")))
"""


def _runner(tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    fake = tmp_path / "pytest"
    fake.write_text(FAKE.format(python=sys.executable))
    fake.chmod(0o755)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "lanes.py"), "-q"], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTEST": str(fake), "FAKE_OUT": str(tmp_path),
             "LANES_LOGS": str(tmp_path / "logs"), **env})


@pytest.mark.parametrize(("rc_a", "rc_b", "expected"), [
    (0, 0, 0), (5, 0, 5), (0, 5, 5), (1, 0, 1), (0, 1, 1), (2, 3, 2)])
def test_either_lane_failing_or_collecting_nothing_fails_the_run(
        tmp_path: Path, rc_a: int, rc_b: int, expected: int) -> None:
    run = _runner(tmp_path, FAKE_RC_a=str(rc_a), FAKE_RC_b=str(rc_b))
    out, _ = run.communicate(timeout=60)
    assert run.returncode == expected, out
    assert f"lane a: exit {rc_a}" in out
    assert f"lane b: exit {rc_b}" in out
    assert ("collected no tests" in out) == (5 in (rc_a, rc_b))
    assert "lane a running" in out, "lane a's log is printed after both end"
    assert (tmp_path / "logs" / "lane-b.log").read_text() == "lane b running\n"


def test_lane_b_is_the_whole_suite_less_what_lane_a_runs(tmp_path: Path) -> None:
    run = _runner(tmp_path)
    run.communicate(timeout=60)
    a = (tmp_path / "args-a").read_text().splitlines()
    b = (tmp_path / "args-b").read_text().splitlines()
    assert "-q" in a, "extra arguments go to both lanes"
    assert "-q" in b
    lane_a = [x for x in a if x.startswith("tests/")]
    assert lane_a, a
    assert all((ROOT / x).is_dir() for x in lane_a), "a renamed directory would run nowhere"
    assert [x for x in b if x.startswith(("tests", "--ignore"))] == [
        "tests", *(f"--ignore={x}" for x in lane_a)], "every other test runs in lane b, once"


@pytest.mark.parametrize("how", ["SIGTERM to the runner", "SIGINT to its process group"])
def test_a_signal_stops_both_lanes_at_once_each_interrupted_once(
        tmp_path: Path, how: str) -> None:
    run = _runner(tmp_path, FAKE_SLEEP_a="60", FAKE_SLEEP_b="60")
    deadline = time.monotonic() + 30
    while not ((tmp_path / "args-a").exists() and (tmp_path / "args-b").exists()):
        assert time.monotonic() < deadline, "the lanes did not start"
        time.sleep(0.05)
    time.sleep(0.3)  # the stand-ins have set their handlers
    sent = time.monotonic()
    if how.startswith("SIGTERM"):
        run.send_signal(signal.SIGTERM)
    else:  # what a terminal's Ctrl-C does: the whole foreground process group
        os.killpg(os.getpgid(run.pid), signal.SIGINT)
    out, _ = run.communicate(timeout=30)
    assert time.monotonic() - sent < 10, "both lanes stopped, none ran its 60 s"
    assert (tmp_path / "sigint-a").read_text() == "x", "lane a interrupted once"
    assert (tmp_path / "sigint-b").read_text() == "x", "lane b interrupted once"
    assert run.returncode == 2, out
    assert "stopping both lanes" in out
