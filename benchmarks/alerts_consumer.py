"""``bench_alerts``'s consumer process (``benchmarks.alerts_trace``: the view consumer with the
alerts plugin, stages timed).

    python -m benchmarks.alerts_consumer '<views config as JSON>' <chain state dir> [TRACE.json]

Only a launcher: the consumer's verify worker (a spawned process) imports its parent's main
module again, and this one loads nothing, so the worker holds only what verifying needs.
"""

from __future__ import annotations

if __name__ == "__main__":
    from benchmarks.alerts_trace import main

    main()
