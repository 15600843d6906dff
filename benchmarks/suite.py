"""``make bench``: every benchmark, one after another, against one broker; then one table.

    .venv/bin/python -m benchmarks.suite [--scale quick|full] [--only publish,views]
        [--out build/bench]

Starts a throwaway local broker (or uses ``EMINING_KAFKA_BOOTSTRAP`` and its credential), hands
it to each benchmark by environment, runs each as ``python -m benchmarks.bench_<name> ...
--json-out <out>/<name>.json`` (its own output and logs go to ``<out>/<name>.log``), then prints
one table of every row (``benchmarks.table``) and writes ``<out>/results.json`` (every result
document, the rows, the scale, how long each took, the load average) and ``<out>/table.md``
(the table for the README). ``quick`` (the default) fits in about 10-12 minutes on 2 cores;
``full`` runs the issue's sizes (200k audit events, 60 s of alerts, 100k publishes, ..., and
``bench_soak`` and ``bench_views_soak``: RSS over 1M events published, and applied to the views);
``smoke`` checks that every benchmark runs, in a few minutes (its numbers mean nothing).
A benchmark that fails shows as a row that is not met, naming its log; the exit code is 1 then.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console

from benchmarks.output import broker, quiet_logging, row, stdout_to_stderr
from benchmarks.table import lines, markdown, rich_table
from tests.kafka_support import access_env

ROOT = Path(__file__).resolve().parents[1]
log = structlog.get_logger("benchmarks.suite")

SIZES: dict[str, dict[str, list[str]]] = {
    "smoke": {  # every benchmark runs, the numbers mean nothing: a check of the machinery
        "contract": ["--n", "500"],
        "publish": ["--events", "2000"],
        "gateway": ["--requests", "200", "--concurrency", "8"],
        "views": ["--events", "2000"],
        "alerts": ["--rate", "100", "--seconds", "3"],
        "audit": ["--events", "1000"],
        "console": ["--requests", "3", "--scale", "0.2"],
        "scaleout": ["--events", "1000"],
        "checkpoints": ["--events", "1000", "--rounds", "1"],
        "views_soak": ["--events", "2000", "--chunk", "1000"],
    },
    "quick": {
        "contract": ["--n", "5000"],
        "publish": ["--events", "30000"],
        "gateway": ["--requests", "2000", "--concurrency", "32"],
        "views": ["--events", "10000"],
        "alerts": ["--rate", "1000", "--seconds", "20"],
        "audit": ["--events", "20000"],
        "console": ["--requests", "40"],
        "scaleout": ["--events", "10000"],
        "checkpoints": ["--events", "10000", "--rounds", "1"],
    },
    "full": {
        "contract": ["--n", "20000"],
        "publish": ["--events", "100000"],
        "gateway": ["--requests", "3000", "--concurrency", "32"],
        "views": ["--events", "50000"],
        "alerts": ["--rate", "1000", "--seconds", "60"],
        "audit": ["--events", "200000"],
        "console": ["--requests", "200"],
        "scaleout": ["--events", "20000"],
        "checkpoints": ["--events", "20000", "--rounds", "2"],
        # issue 18's "memory flat over a 1M-event run": minutes of publishing, full scale only
        "soak": ["--events", "1000000"],
        "views_soak": ["--events", "1000000"],
    },
}
NEEDS_BROKER = {"publish", "gateway", "views", "alerts", "audit", "scaleout", "checkpoints",
                "soak", "views_soak"}


def command(name: str, scale: str, out: Path) -> list[str]:
    return [sys.executable, "-m", f"benchmarks.bench_{name}", *SIZES[scale][name],
            "--json-out", str(out / f"{name}.json")]


def run_one(name: str, scale: str, out: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one benchmark; its result document, or a failed row naming its log."""
    target = out / f"{name}.json"
    target.unlink(missing_ok=True)
    logfile = out / f"{name}.log"
    started = time.perf_counter()
    log.warning("benchmark_started", benchmark=name, args=" ".join(SIZES[scale][name]))
    with logfile.open("w") as sink:
        done = subprocess.run(command(name, scale, out), cwd=ROOT, env=env, stdout=sink,
                              stderr=subprocess.STDOUT, check=False)
    seconds = round(time.perf_counter() - started, 1)
    log.warning("benchmark_done", benchmark=name, seconds=seconds, exit_code=done.returncode)
    if done.returncode == 0 and target.exists():
        doc: dict[str, Any] = json.loads(target.read_text())
    else:
        doc = {"name": name, "result": None, "summary": [row(
            name, f"{name} (failed)", unit="", rate=None,
            target={"min_rate": 0}, note=f"exit code {done.returncode}, see {logfile}")]}
    doc["seconds"] = seconds
    doc["command"] = " ".join(["python", "-m", f"benchmarks.bench_{name}",
                               *SIZES[scale][name]])
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SIZES), default="quick")
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args()
    quiet_logging()
    names = [n for n in SIZES[args.scale] if not args.only or n in args.only.split(",")]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    docs: list[dict[str, Any]] = []
    with stdout_to_stderr(), broker() as kafka:
        env = {**os.environ, **access_env(kafka), "PYTHONPATH": str(ROOT)}
        plain = {**os.environ, "PYTHONPATH": str(ROOT)}
        docs.extend(run_one(name, args.scale, out, env if name in NEEDS_BROKER else plain)
                    for name in names)
    rows = lines(docs)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = {"scale": args.scale, "finished": when, "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "seconds": round(time.perf_counter() - started, 1)}
    (out / "results.json").write_text(json.dumps(
        {**meta, "benchmarks": docs, "table": [r.cells() for r in rows]}, indent=2) + "\n")
    header = (f"`make bench` ({args.scale}), {when}, {meta['cpus']} CPUs, load average "
              f"{meta['load_average_1m']} at the end, {meta['seconds']:.0f} s in all\n\n")
    (out / "table.md").write_text(header + markdown(rows))
    Console(width=200).print(rich_table(rows, title=header.strip().replace("`", "")))
    Console().print(f"wrote {out / 'results.json'} and {out / 'table.md'}")
    if any(doc["result"] is None for doc in docs):
        sys.exit(1)


if __name__ == "__main__":
    main()
