"""Benchmarks print their result on stdout and nothing else (``--json | python -m json.tool``)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from benchmarks.output import stdout_to_stderr

ROOT = Path(__file__).resolve().parents[2]


def test_within_the_block_stdout_of_this_process_and_its_children_goes_to_stderr(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with stdout_to_stderr():
        print("a stray print")  # noqa: T201 - what the guard is for
        structlog.get_logger("bench").warning("a_log_line")
        subprocess.run(["echo", "a child's output"], check=True)
    sys.stdout.write('{"result": 1}\n')
    out, err = capfd.readouterr()
    assert out == '{"result": 1}\n'
    assert "a stray print" in err
    assert "a child's output" in err


def test_bench_contract_json_is_the_only_thing_on_stdout() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_contract", "--n", "50", "--json"], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EMINING_LOG_LEVEL": "debug"},
        capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout)["events"] == 50


def test_bench_statements_json_counts_each_way_on_both_paths() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_statements", "--n", "30", "--json"], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EMINING_LOG_LEVEL": "debug"},
        capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(done.stdout)
    assert result["statements"] == 30
    for path in ("aiosqlite_thread", "inline"):
        assert set(result[path]) == {"built_each_call", "built_once", "driver_alone"}
        assert all(way["wall_us"] > 0 for way in result[path].values())
    assert result["stdlib_sqlite3"]["wall_us"] > 0


_HOLDS_A_CHILD = """
import asyncio, subprocess, sys
from benchmarks.output import exit_on_sigterm
from transport import eventloop

if sys.argv[1] == "handled":
    exit_on_sigterm()

async def main() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:  # the pid is printed inside: a SIGTERM right after it must find the finally armed
        print(child.pid, flush=True)
        await asyncio.sleep(600)
    finally:  # what a benchmark does with its server, consumers and broker
        child.terminate()
        child.wait(10)

eventloop.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.parametrize("mode", ["handled", "default"])
def test_a_terminated_benchmark_stops_what_it_started(mode: str) -> None:
    """SIGTERM (a CI timeout, ``kill``) used to end a benchmark at once and leave its server
    running; ``exit_on_sigterm`` makes it run its ``finally`` blocks first. The ``default``
    case shows the premise: without it the child is left behind."""
    bench = subprocess.Popen([sys.executable, "-c", _HOLDS_A_CHILD, mode], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, text=True)
    assert bench.stdout is not None
    child = int(bench.stdout.readline())
    try:
        bench.terminate()
        code = bench.wait(30)
        if mode == "handled":
            assert code == 128 + 15  # SystemExit(128 + SIGTERM)
            assert not _alive(child), "the benchmark's child outlived it"
        else:
            assert code == -15  # killed by the signal, no cleanup
            assert _alive(child)
    finally:
        bench.stdout.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, 9)
