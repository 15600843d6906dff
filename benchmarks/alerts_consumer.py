"""``bench_alerts``'s consumer process (``benchmarks.alerts_trace``: the view consumer with the
alerts plugin, stages timed).

    python -m benchmarks.alerts_consumer '<views config as JSON>' <chain state dir> [TRACE.json]

Only a launcher: a process the consumer starts with ``multiprocessing``'s spawn (the alerts'
delivery process) imports its parent's main module again, and this one loads nothing, so that
process holds only what it needs.
"""

from __future__ import annotations

if __name__ == "__main__":
    from benchmarks.alerts_trace import main

    main()
