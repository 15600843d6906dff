"""Benchmarks print their result on stdout and nothing else (``--json | python -m json.tool``)."""

from __future__ import annotations

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
