"""Summarise a cProfile dump: the functions with the most time of their own, as shares.

    .venv/bin/python -m benchmarks.profiles FILE.prof [--top 15] [--markdown]

Shares are of the profile's total time (the sum of every function's own time), so they add up;
cProfile's overhead inflates cheap, frequent Python calls against C calls (libsodium, SQLite),
so read them as an order, not as exact fractions. ``bench_publish --profile FILE`` and
``bench_views --profile DIR`` write such dumps.
"""

from __future__ import annotations

import argparse
import pstats
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name  # a built-in: "<built-in method _sodium.crypto_sign>"
    parts = Path(path).parts
    for anchor in ("site-packages", "python3.11"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1:]
            break
    else:
        for root in ("schemas", "transport", "producers", "consumers", "infra", "benchmarks",
                     "tests"):
            if root in parts:
                parts = parts[parts.index(root):]
                break
    return f"{'/'.join(parts)}:{line}({name})"


def top(path: Path, n: int = 15) -> dict[str, Any]:
    """The ``n`` functions with the most own time, and the total, from a cProfile dump."""
    stats: dict[Any, Any] = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values()) or 1.0
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:n]
    return {"total_s": round(total, 3), "functions": [
        {"function": _name(func), "calls": row[1], "own_s": round(row[2], 3),
         "own_share": round(row[2] / total, 3), "cumulative_s": round(row[3], 3)}
        for func, row in ranked]}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    summary = top(args.file, args.top)
    if args.markdown:
        lines = ["| function | calls | own s | share |", "|---|---:|---:|---:|"]
        lines += [f"| `{f['function']}` | {f['calls']:,} | {f['own_s']} | "
                  f"{f['own_share']:.1%} |" for f in summary["functions"]]
        Console(width=300, soft_wrap=True).print("\n".join(lines), markup=False,
                                                 highlight=False)
        return
    table = Table("function", "calls", "own s", "share", "cumulative s",
                  title=f"{args.file} ({summary['total_s']} s)")
    for f in summary["functions"]:
        table.add_row(f["function"], f"{f['calls']:,}", str(f["own_s"]),
                      f"{f['own_share']:.1%}", str(f["cumulative_s"]))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
