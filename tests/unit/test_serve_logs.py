"""``emining serve`` with EMINING_LOG_FORMAT=json writes JSON lines only: uvicorn's start-up and
shutdown lines included, and a read of the API logged as ``api_read``. No broker: the service
starts without one (503 on health), which is all this needs."""

from __future__ import annotations

import json
import logging
import logging.config
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn.config

from infra.logging import configure_logging
from schemas.alerts import PLATFORM_ORG
from schemas.signing import PrivateKey, b64

ROOT = Path(__file__).resolve().parents[2]
UVICORN_LINES = [
    "Started server process", "Waiting for application startup.", "Application startup complete.",
    "Uvicorn running on", "Shutting down", "Waiting for application shutdown.",
    "Application shutdown complete.", "Finished server process",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(path: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        assert process.poll() is None, f"serve exited early:\n{path.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} within {timeout_s}s:\n{path.read_text()}")


def test_serve_writes_only_json_lines_uvicorns_own_included(tmp_path):
    port = _free_port()
    env = {**os.environ,
           "EMINING_STATE_DIR": str(tmp_path / "state"),
           "EMINING_TRUST_ANCHOR": b64(PrivateKey.generate(PLATFORM_ORG).public_key),
           "EMINING_KAFKA_BOOTSTRAP": "127.0.0.1:9", "EMINING_KAFKA_SECURITY": "none",
           "EMINING_CLIENT_TIMEOUT_S": "1", "EMINING_LOG_FORMAT": "json",
           "EMINING_LOG_LEVEL": "info"}
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", "from infra.cli import main; main()", "serve",
             "--port", str(port)], cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        try:
            _wait_for(err, "Uvicorn running on", process, timeout_s=90)
            read = httpx.get(f"http://127.0.0.1:{port}/v1/public/lead-times", timeout=30)
            assert read.status_code == 200, read.text
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert out.read_text() == ""
    lines = err.read_text().splitlines()
    assert lines, "serve logged nothing"
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line!r}\n" + "\n".join(lines)) from None
    uvicorn = [r["event"] for r in records if r.get("logger") == "uvicorn.error"]
    assert len(uvicorn) == len(UVICORN_LINES), uvicorn
    for said, expected in zip(uvicorn, UVICORN_LINES, strict=True):
        assert said.startswith(expected)
    [api_read] = [r for r in records if r["event"] == "api_read"]
    assert (api_read["route"], api_read["status"], api_read["org"]) == (
        "/v1/public/lead-times", 200, None)
    assert all({"timestamp", "level"} <= set(r) for r in records)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """The stdlib logging set-up as it was, after a test that configures it."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    named = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate,
                 logging.getLogger(n).level) for n in ("uvicorn", "uvicorn.error",
                                                       "uvicorn.access")}
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, (handlers, propagate, level) in named.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)
        logging.captureWarnings(capture=False)


def test_uvicorns_default_config_is_undone_and_tracebacks_are_one_json_field(
        restored_logging, capsys):
    # `uvicorn infra.compose.app:build_app --factory` installs its plain handlers before the app is
    # built; build_app's configure_logging takes them off again.
    logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
    configure_logging("info", "json")
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s", "http://x")
    try:
        raise ValueError("a bug")  # noqa: TRY301
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = [json.loads(line) for line in captured.err.splitlines()]
    assert [(r["event"], r["logger"]) for r in lines] == [
        ("Uvicorn running on http://x", "uvicorn.error"),
        ("Exception in ASGI application", "uvicorn.error")]
    assert lines[1]["exception"].startswith("Traceback")
    assert "ValueError: a bug" in lines[1]["exception"]
