"""``transport.memory``: free memory the C library kept is given back, at most so often."""

from __future__ import annotations

import subprocess
import sys

import pytest

from transport import memory

pytestmark = pytest.mark.skipif(not memory.available(), reason="needs glibc's malloc_trim")

# Objects of 2 KB come from malloc, not CPython's own allocator. Keeping one in eight of them
# leaves the heap's top in use, so glibc cannot give the freed seven back by itself.
PROGRAM = """
import sys
from transport import memory
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
blocks = [bytes(2048) + i.to_bytes(4, "big") for i in range(100_000)]
kept = blocks[::8]
del blocks
before = rss_mb()
if sys.argv[1] == "trim":
    memory.trim()
print(round(before - rss_mb(), 1))
"""


def _given_back_mb(how: str) -> float:
    done = subprocess.run([sys.executable, "-c", PROGRAM, how], capture_output=True, text=True,
                          check=True)
    return float(done.stdout)


def test_trim_gives_back_the_free_memory_the_heap_kept() -> None:
    assert _given_back_mb("keep") < 5  # ~180 MB freed by Python, still resident
    assert _given_back_mb("trim") > 100


def test_the_trimmer_trims_at_first_then_at_most_once_per_interval() -> None:
    now = [100.0]
    trimmer = memory.Trimmer(every_s=2.0, clock=lambda: now[0])
    trimmer.maybe()
    assert trimmer.trims == 1
    now[0] += 1.9
    trimmer.maybe()
    assert trimmer.trims == 1
    now[0] += 0.2
    trimmer.maybe()
    trimmer.maybe()
    assert trimmer.trims == 2
