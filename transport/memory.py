"""Freed memory handed back to the system now and then: glibc's ``malloc_trim``.

CPython takes every object over 512 bytes (a record's bytes, a view document's JSON, a row of a
query) from the C library's ``malloc``. glibc keeps what is freed in its heaps for reuse and, by
itself, gives back only the free memory at a heap's top. After a batch made and dropped
thousands of such objects among ones that stay, tens of MB remain resident while free: applying
20k events in one process left 35 MB of it, given back by one ``malloc_trim(0)`` in ~5 ms
(~0.4 ms when there is nothing to give back; docs/performance.md, "Thirteenth pass").

``Trimmer.maybe()`` calls it at most once per ``every_s``: the view consumer after each batch
(``consumers.pipeline``, or the subscriber itself without verify workers), its verify worker
after each batch it verified; ``Trimmer.soon()`` once more ``every_s`` later, for the consumer
that has no batch waiting (the last batches of a burst free their memory too). Without glibc
(musl, macOS) it does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable
from typing import Any

TRIM_EVERY_S = 2.0
"""How often a long-running process gives back its free memory at most."""


def _malloc_trim() -> Any:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def available() -> bool:
    """Whether this process's C library can give free memory back (glibc)."""
    return _TRIM is not None


def trim() -> bool:
    """Give every whole free page of the C library's heaps back to the system now; whether
    anything was given back."""
    return _TRIM is not None and bool(_TRIM(0))


class Trimmer:
    """``trim()`` at most once per ``every_s`` (the first call trims)."""

    def __init__(self, every_s: float = TRIM_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s, self._clock = every_s, clock
        self._last: float | None = None
        self._due: asyncio.TimerHandle | None = None
        self.trims = 0
        """How many times it trimmed (for tests and metrics)."""

    def soon(self) -> None:
        """``maybe()`` again ``every_s`` from now on the running loop, unless one is due."""
        if _TRIM is None or self._due is not None:
            return

        def due() -> None:
            self._due = None
            self.maybe()

        self._due = asyncio.get_running_loop().call_later(self.every_s, due)

    def maybe(self) -> None:
        if _TRIM is None:
            return
        now = self._clock()
        if self._last is not None and now - self._last < self.every_s:
            return
        self._last = now
        self.trims += 1
        _TRIM(0)
