"""The verify worker is a process of its own: what it logs must not land on its parent's stdout,
which may be a command's JSON (``emining audit replay --json``), and it loads only what
verifying needs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent("""
    import asyncio
    import atexit
    import sys
    from consumers.audit.records import RawRecord
    from consumers.verify_pool import VerifyPool
    from schemas.registry import Registry
    from schemas.timing import TimeBounds
    from worker_setup import setup

    async def main() -> None:
        pool = VerifyPool([], {"t": "emining.projects.v1"}, {"t": 1}, TimeBounds(),
                          {setup})
        garbage = RawRecord("t", 0, 0, 0, b"k", b"{}", {headers})
        try:
            verdicts = await pool.submit([garbage], Registry(), 1)
        finally:
            pool.close()
        print("verdict", verdicts[0].reason.value)

    if __name__ == "__main__":
        asyncio.run(main())
""")


SETUP = textwrap.dedent("""
    import atexit
    import sys

    HEAVY = ("sqlalchemy", "faststream", "fastapi", "consumers.holding", "consumers.fold",
             "consumers.store", "consumers.runner", "multiprocessing")

    def report() -> None:  # what the worker loaded, once it verified (at its exit)
        print("worker loaded", sorted(m for m in HEAVY if m in sys.modules), file=sys.stderr)

    def setup() -> None:
        atexit.register(report)
""")


def _run(tmp_path: Path, *, setup: str, headers: str,
         cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The program above (a main module that loads nothing itself), its worker started with
    ``setup`` (a function of a module beside it: the worker finds it on its consumer's path)
    and given one unreadable record with ``headers``."""
    (tmp_path / "worker_setup.py").write_text(SETUP)
    script = tmp_path / "pool.py"
    script.write_text(PROGRAM.replace("{setup}", setup).replace("{headers}", headers))
    return subprocess.run([sys.executable, str(script)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT)}, check=True)


def test_a_worker_without_a_logging_setup_logs_to_stderr_not_stdout(tmp_path: Path) -> None:
    done = _run(tmp_path, setup="None", headers='(("ce_id",),)')  # a header, no value
    assert done.stdout == "verdict malformed\n"
    assert "record_unparseable" in done.stderr


def test_the_worker_loads_no_store_or_consumer_modules_to_verify(tmp_path: Path) -> None:
    # it only verifies: the store's and the consumer's modules (SQLAlchemy, FastStream, the
    # holding and the fold) cost it ~40 MB of its RSS when they came along (nor is
    # multiprocessing: the worker is a plain child process)
    done = _run(tmp_path, setup="setup", headers='(("ce_id", b"x"),)')
    assert done.stdout == "verdict missing_header\n"  # it was verified there
    assert "worker loaded []" in done.stderr, done.stderr[-2000:]


def _main_module_setup() -> None:
    """Stands for a setup defined in a program's main module."""


def test_a_setup_the_worker_could_not_import_is_refused_at_once() -> None:
    from functools import partial  # noqa: PLC0415

    from consumers.verify_pool import VerifyPool  # noqa: PLC0415
    from schemas.timing import TimeBounds  # noqa: PLC0415

    _main_module_setup.__module__ = "__main__"  # as a script's own function is
    for setup in (_main_module_setup, partial(_main_module_setup)):
        with pytest.raises(ValueError, match="module it can import"):
            VerifyPool([], {}, {}, TimeBounds(), setup)
    VerifyPool([], {}, {}, TimeBounds(), partial(print)).close()  # importable: taken


def test_a_batch_the_worker_fails_on_comes_back_as_its_error_and_a_cut_frame_ends_it() -> None:
    import io  # noqa: PLC0415
    import pickle  # noqa: PLC0415

    from consumers.verify_worker import StageSpec, Worker, _answer, read_frame, write_frame  # noqa: PLC0415
    from schemas.timing import TimeBounds  # noqa: PLC0415

    worker = Worker(StageSpec((), {}, {}, TimeBounds()))
    ok, error = pickle.loads(_answer(pickle.dumps((None, [])), worker))  # no registry sent
    assert (ok, type(error), str(error)) == (False, RuntimeError, "no registry sent yet")
    ok, error = pickle.loads(_answer(b"not a pickle", worker))
    assert ok is False
    assert isinstance(error, pickle.UnpicklingError)
    stream = io.BytesIO()
    write_frame(stream, b"whole")
    write_frame(stream, b"cut short")
    cut = io.BytesIO(stream.getvalue()[:-3])
    assert read_frame(cut) == b"whole"
    assert read_frame(cut) is None  # its writer died mid-frame: the end


def test_the_worker_runs_nothing_from_the_directory_it_is_started_in(tmp_path: Path) -> None:
    # a consumer run from a directory holding a module of the worker's name (structlog.py):
    # the worker must not import it ahead of its own (``python -P``)
    here = tmp_path / "here"
    here.mkdir()
    (here / "structlog.py").write_text("import sys\nprint('HIJACKED', file=sys.stderr)\n"
                                       "raise SystemExit(9)\n")
    done = _run(tmp_path, setup="setup", headers='(("ce_id", b"x"),)', cwd=here)
    assert done.stdout == "verdict missing_header\n"
    assert "HIJACKED" not in done.stderr


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_a_worker_that_cannot_be_started_leaves_no_descriptor_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from consumers import verify_pool  # noqa: PLC0415
    from schemas.timing import TimeBounds  # noqa: PLC0415

    monkeypatch.setattr(verify_pool.sys, "executable", "/nonexistent/python")
    before = _open_fds()
    for _ in range(20):
        pool = verify_pool.VerifyPool([], {}, {}, TimeBounds())
        with pytest.raises(FileNotFoundError):
            pool.start()
    assert _open_fds() == before


async def test_a_worker_that_dies_starting_is_settled_and_refuses_batches() -> None:
    import asyncio  # noqa: PLC0415
    import time  # noqa: PLC0415
    from functools import partial  # noqa: PLC0415

    from consumers.verify_pool import VerifyPool, WorkerLostError  # noqa: PLC0415
    from schemas.registry import Registry  # noqa: PLC0415
    from schemas.timing import TimeBounds  # noqa: PLC0415

    pool = VerifyPool([], {}, {}, TimeBounds(), partial(os._exit, 3))  # its setup exits
    try:
        pool.start()
        deadline = time.monotonic() + 60
        while not pool.ready:  # "ready" to be sent to, so that the caller finds it dead
            assert time.monotonic() < deadline, "a dead worker looked as if still starting"
            await asyncio.sleep(0.05)
        with pytest.raises(WorkerLostError, match="exit code 3"):
            pool.submit([], Registry(), 1, restart=False)
    finally:
        pool.close()
