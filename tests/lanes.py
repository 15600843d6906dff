"""The whole suite in two pytest sessions side by side (`make test` runs this; so does CI).

    .venv/bin/python tests/lanes.py [pytest arguments for both lanes]

One session runs sequentially in ~35 min on 2 cores, most of it spent waiting: on three JVMs
(the fault cluster), on consumers that are killed and started again, on group rebalances. Two
sessions fill the second core. Each has its own broker, PostgreSQL and OpenID provider (free
ports, own temp dirs), so they share nothing but the jar cache.

- lane a: the fault suite, the unit tests, the views' integration tests (kill -9, scale-out) and
  the demo's end-to-end test (~2 min: it evened the lanes, lane b ended ~200 s after lane a);
- lane b: everything else; a new test directory lands here unless it is named in ``LANE_A``.

Lane b streams to the terminal and ``build/test/lane-b.log``; lane a writes
``build/test/lane-a.log``, printed when both end. A lane failing, or collecting nothing (pytest's
exit 5), fails the run. Ctrl-C or SIGTERM stops both lanes: each pytest runs in a session of its
own and gets one SIGINT from here, so its fixtures stop their brokers; SIGKILL if it is still
there ``GRACE_S`` later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
LOGS = Path(os.environ.get("LANES_LOGS") or ROOT / "build" / "test")
"""Where the lanes' logs go (``LANES_LOGS``: the tests of this runner use their own)."""
LANE_A = ("tests/faults", "tests/unit", "tests/integration/views", "tests/e2e")
REQUIRE = {f"EMINING_REQUIRE_{what}": "1" for what in ("KAFKA", "POSTGRES", "OIDC", "BROWSER")}
GRACE_S = 60.0
NO_TESTS = 5
"""pytest's exit status when it collected nothing: a broken run, not a green one."""


def lanes(extra: list[str]) -> dict[str, list[str]]:
    """Each lane's pytest arguments; ``extra`` goes to both."""
    rest = ["tests", *(f"--ignore={path}" for path in LANE_A)]
    return {"a": ["--durations=15", *LANE_A, *extra], "b": ["--durations=15", *rest, *extra]}


class Run:
    """Both lanes as child processes; ``stop`` ends them (a signal handler calls it)."""

    def __init__(self, pytest: str, extra: list[str]) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **REQUIRE}
        self.started = time.monotonic()
        self.ended: dict[str, float] = {}
        self.stopping = False
        self._log_a = (LOGS / "lane-a.log").open("wb")
        args = lanes(extra)
        # Sessions of their own: a Ctrl-C reaches this process alone, which interrupts each
        # lane once (a second SIGINT would cut short the fixtures stopping their brokers).
        self.a = subprocess.Popen([pytest, *args["a"]], cwd=ROOT, env=env, stdout=self._log_a,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self.b = subprocess.Popen([pytest, *args["b"]], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        self._waiter = threading.Thread(target=self._wait_a, daemon=True)
        self._waiter.start()

    def _wait_a(self) -> None:
        self.a.wait()
        self.ended["a"] = time.monotonic()

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        """Interrupt both lanes once; kill what is left ``GRACE_S`` later."""
        if self.stopping:
            return
        self.stopping = True
        _say(f"\nlanes: signal {signum}: stopping both lanes", err=True)
        for lane in (self.a, self.b):
            if lane.poll() is None:
                lane.send_signal(signal.SIGINT)
        killer = threading.Timer(GRACE_S, self._kill)
        killer.daemon = True
        killer.start()

    def _kill(self) -> None:
        for lane in (self.a, self.b):
            if lane.poll() is None:
                lane.kill()

    def finish(self) -> dict[str, int]:
        """Stream lane b, wait for both; their exit statuses."""
        out = self.b.stdout
        assert out is not None
        with (LOGS / "lane-b.log").open("wb") as log_b:
            while chunk := out.read1(1 << 16):
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                log_b.write(chunk)
        status = {"b": self.b.wait()}
        self.ended["b"] = time.monotonic()
        status["a"] = self.a.wait()
        self._waiter.join()
        self._log_a.close()
        return status


def _say(line: str, *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(line + "\n")
    stream.flush()


def main(argv: list[str]) -> int:
    run = Run(os.environ.get("PYTEST", str(ROOT / ".venv" / "bin" / "pytest")), argv)
    signal.signal(signal.SIGINT, run.stop)
    signal.signal(signal.SIGTERM, run.stop)
    status = run.finish()
    _say(f"\n{'=' * 27} lane a ({LOGS / 'lane-a.log'}) {'=' * 27}")
    sys.stdout.buffer.write((LOGS / "lane-a.log").read_bytes())
    _say("")
    worst = 0
    for lane in ("a", "b"):
        rc = status[lane]
        _say(f"lane {lane}: exit {rc} after {run.ended[lane] - run.started:.0f} s")
        if rc == NO_TESTS:
            _say(f"error: lane {lane} collected no tests", err=True)
        if rc != 0 and worst == 0:
            worst = rc if rc > 0 else 128 - rc  # killed by a signal: 128 + its number
    if run.stopping and worst == 0:
        worst = 130
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
