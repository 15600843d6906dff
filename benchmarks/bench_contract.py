"""Events per second to build + sign + serialise, and to parse + verify + validate (one core).

    .venv/bin/python -m benchmarks.bench_contract [--n 20000] [--json]

Uses every event type's realistic EXAMPLE in turn; compares our canonical-JSON fast path with
pure ``rfc8785`` on the same inputs so the gain is measured, not assumed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc8785
from rich.console import Console
from rich.table import Table

from benchmarks.output import (
    add_json_out,
    exit_on_sigterm,
    own_peak_rss_mb,
    print_json,
    quiet_logging,
    row,
    stdout_to_stderr,
    write_json_out,
)
from schemas.catalogue import event_types
from schemas.chain import Link
from schemas.envelope import seal, to_record
from schemas.envelope_read import from_record
from schemas.signing import PrivateKey, Verifier, signing_input


def _rate(n: int, fn: Callable[[int], Any]) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - start)


def run(n: int) -> dict[str, Any]:
    key = PrivateKey.generate("urn:emining:pk:gov:ba-mmdd")
    signer = key.signer()
    verifier = Verifier(key.public_key)
    classes = sorted(event_types().values(), key=lambda c: c.ce_type())
    datas = [cls.model_validate(cls.EXAMPLE) for cls in classes]
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    link = Link()
    records = []

    def build(i: int) -> None:
        nonlocal link
        seq, prev = link.next()
        env = seal(datas[i % len(datas)], source=f"{key.org}/bench", signer=signer,
                   sequence=seq, prevhash=prev, time=t0 + timedelta(seconds=i))
        link = Link(seq, env.hash())
        records.append(to_record(env))

    def parse(i: int) -> None:
        rec = records[i]
        env = from_record(rec.key, rec.value, tuple(rec.headers))
        verifier.verify(env.signing_input(), env.signature)

    build_rate = _rate(n, build)
    parse_rate = _rate(n, parse)
    sample = [from_record(r.key, r.value, tuple(r.headers)) for r in records[: len(datas)]]
    docs = [({k: v for k, v in e.attributes.items() if k != "signature"}, e.data_json)
            for e in sample]
    fast = _rate(n, lambda i: signing_input(*docs[i % len(docs)]))
    slow = _rate(n, lambda i: rfc8785.dumps({**docs[i % len(docs)][0],
                                             "data": docs[i % len(docs)][1]}))
    value_bytes = sum(len(r.value) for r in records[: len(datas)]) / len(datas)
    return {
        "events": n, "types": len(datas), "mean_value_bytes": round(value_bytes),
        "build_sign_serialise_per_s": round(build_rate),
        "parse_verify_validate_per_s": round(parse_rate),
        "canonical_fast_path_per_s": round(fast), "canonical_rfc8785_per_s": round(slow),
        "fast_path_speedup": round(fast / slow, 2), "peak_rss_mb": own_peak_rss_mb(),
    }


def summary(result: dict[str, Any]) -> list[dict[str, Any]]:
    """``make bench``'s rows: the per-event work on one core (no broker, no target of its own)."""
    return [
        row("contract", "build + sign + serialise, one core", unit="events/s",
            rate=result["build_sign_serialise_per_s"], rss_mb=result["peak_rss_mb"],
            rss_of="benchmark process"),
        row("contract", "parse + verify + validate, one core", unit="events/s",
            rate=result["parse_verify_validate_per_s"], rss_mb=result["peak_rss_mb"],
            rss_of="benchmark process",
            note=f"canonical JSON fast path {result['fast_path_speedup']}x rfc8785"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    add_json_out(parser)
    args = parser.parse_args()
    quiet_logging()
    exit_on_sigterm()
    with stdout_to_stderr():
        result = run(args.n)
    write_json_out(args.json_out, "contract", result, summary(result))
    if args.json:
        print_json(result)
        return
    table = Table("measure", "value", title="event contract, one core")
    for k, v in result.items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    Console().print(table)


if __name__ == "__main__":
    main()
