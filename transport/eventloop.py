"""The event loop every service and command of the bus runs on: uvloop, or asyncio's own.

uvloop (libuv) schedules callbacks, wakes the loop from other threads and moves socket bytes in
C: the view consumer hands every SQL statement to aiosqlite's thread and back, the gateway
serves HTTP and both talk to Kafka, so those hand-offs are a large share of what they do
(docs/performance.md, "Fifth pass"). ``EMINING_EVENT_LOOP=asyncio`` runs on the standard loop
instead (to compare, or if a platform's uvloop misbehaves); nothing else changes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

from schemas.errors import EminingError

T = TypeVar("T")

EVENT_LOOP_ENV = "EMINING_EVENT_LOOP"
LOOPS = ("uvloop", "asyncio")


class EventLoopError(EminingError):
    """``EMINING_EVENT_LOOP`` names no loop this bus knows."""


def chosen_loop() -> Literal["uvloop", "asyncio"]:
    """The loop ``EMINING_EVENT_LOOP`` asks for (``uvloop`` when unset)."""
    value = os.environ.get(EVENT_LOOP_ENV, "").strip().lower() or "uvloop"
    if value == "uvloop":
        return "uvloop"
    if value == "asyncio":
        return "asyncio"
    raise EventLoopError(f"{EVENT_LOOP_ENV}={value!r}: use one of {', '.join(LOOPS)}")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """A new event loop of the chosen kind, for ``asyncio.Runner``."""
    if chosen_loop() == "uvloop":
        import uvloop  # noqa: PLC0415 - only when chosen

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the chosen loop."""
    try:
        factory = loop_factory()
    except EventLoopError:
        coro.close()  # never started: no "was never awaited" warning on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)
