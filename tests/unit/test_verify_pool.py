"""The verify worker is a process of its own: what it logs must not land on its parent's stdout,
which may be a command's JSON (``emining audit replay --json``), and it loads only what
verifying needs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent("""
    import asyncio
    import atexit
    import sys
    from consumers.audit.records import RawRecord
    from consumers.verify_pool import VerifyPool
    from schemas.registry import Registry
    from schemas.timing import TimeBounds

    HEAVY = ("sqlalchemy", "faststream", "fastapi", "consumers.holding", "consumers.fold",
             "consumers.store", "consumers.runner")

    def report() -> None:  # what the worker loaded, once it verified (at its exit)
        print("worker loaded", sorted(m for m in HEAVY if m in sys.modules), file=sys.stderr)

    def setup() -> None:
        atexit.register(report)

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


def _run(tmp_path: Path, *, setup: str, headers: str) -> subprocess.CompletedProcess[str]:
    """The program above (a main module that loads nothing itself), its worker started with
    ``setup`` and given one unreadable record with ``headers``."""
    script = tmp_path / "pool.py"
    script.write_text(PROGRAM.replace("{setup}", setup).replace("{headers}", headers))
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(ROOT)}, check=True)


def test_a_worker_without_a_logging_setup_logs_to_stderr_not_stdout(tmp_path: Path) -> None:
    done = _run(tmp_path, setup="None", headers='(("ce_id",),)')  # a header, no value
    assert done.stdout == "verdict malformed\n"
    assert "record_unparseable" in done.stderr


def test_the_worker_loads_no_store_or_consumer_modules_to_verify(tmp_path: Path) -> None:
    # it only verifies: the store's and the consumer's modules (SQLAlchemy, FastStream, the
    # holding and the fold) cost it ~40 MB of its RSS when they came along
    done = _run(tmp_path, setup="setup", headers='(("ce_id", b"x"),)')
    assert done.stdout == "verdict missing_header\n"  # it was verified there
    assert "worker loaded []" in done.stderr, done.stderr[-2000:]
