"""``transport.memory``: free memory the C library kept is given back, at most so often."""

from __future__ import annotations

import asyncio
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
full = rss_mb()
del blocks
freed = rss_mb()
if sys.argv[1] == "trim":
    memory.trim()
print(round(full - freed, 1), round(freed - rss_mb(), 1))
"""


def _given_back_mb(how: str) -> tuple[float, float]:
    """MB given back when ~175 MB were freed, then by what ``how`` did next."""
    done = subprocess.run([sys.executable, "-c", PROGRAM, how], capture_output=True, text=True,
                          check=True)
    by_itself, after = done.stdout.split()
    return float(by_itself), float(after)


def test_trim_gives_back_the_free_memory_the_heap_kept() -> None:
    by_itself, after = _given_back_mb("keep")
    assert by_itself < 5.0  # ~175 MB freed by Python, all still resident
    assert after < 5.0
    by_itself, trimmed = _given_back_mb("trim")
    assert by_itself < 5.0
    assert trimmed > 100.0


def test_the_trimmer_calls_the_c_librarys_trim_with_no_padding(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_TRIM", calls.append)
    memory.Trimmer().maybe()
    assert calls == [0]


async def test_soon_trims_once_after_the_interval_however_often_it_is_asked() -> None:
    calls: list[int] = []
    trimmer = memory.Trimmer(every_s=0.05)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory, "_TRIM", calls.append)
        trimmer.soon()
        trimmer.soon()
        assert calls == []
        await asyncio.sleep(0.2)
        assert calls == [0]
        trimmer.soon()  # the one before ran: another may be due
        await asyncio.sleep(0.2)
    assert calls == [0, 0]


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
