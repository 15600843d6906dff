"""Turns at SQLite's write lock, each side alone (the two processes together are in
``tests/unit/alerts/test_worker_process.py``): who waits for whom, and for how long."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from consumers import write_turns
from consumers.write_turns import HOST_WRITING, WANTED, GuestTurns, HostTurns


@pytest.fixture
def flags() -> object:
    return write_turns.shared()


async def lower_later(flags: Any, index: int, seen: list[int]) -> None:
    """The other side, done 0.2 s from now: notes the flags it saw, then lowers its own."""
    await asyncio.sleep(0.2)
    seen.extend(flags)
    flags[index] = 0


async def test_the_host_lets_a_waiting_guest_go_first_and_marks_its_own_writes(
    flags: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_turns, "WAIT_MAX_S", 5.0)
    host = HostTurns(flags)
    flags[WANTED] = 1  # type: ignore[index]
    lowering = asyncio.create_task(lower_later(flags, WANTED, []))
    began = time.monotonic()
    async with host.writing():
        waited = time.monotonic() - began
        assert flags[HOST_WRITING] == 1  # type: ignore[index]
    assert flags[HOST_WRITING] == 0  # type: ignore[index]
    await lowering
    assert 0.15 < waited < 4.0


async def test_a_flag_stuck_up_costs_one_wait_not_one_per_transaction(
    flags: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child stopped (or hung) with its flag up: the consumer waits once, then passes over it
    until it is seen down, and waits for it again after that."""
    monkeypatch.setattr(write_turns, "WAIT_MAX_S", 0.3)
    host = HostTurns(flags)
    flags[WANTED] = 1  # type: ignore[index]
    began = time.monotonic()
    for _ in range(5):
        async with host.writing():
            pass
    assert 0.25 < time.monotonic() - began < 0.9  # one wait of 0.3 s, not five (1.5 s)
    flags[WANTED] = 0  # type: ignore[index]
    async with host.writing():  # seen down: the next one up is waited for again
        pass
    flags[WANTED] = 1  # type: ignore[index]
    began = time.monotonic()
    async with host.writing():
        pass
    assert time.monotonic() - began > 0.25


async def test_the_guest_raises_its_flag_waits_for_the_host_and_lowers_it_after(
    flags: object, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(write_turns, "WAIT_MAX_S", 5.0)
    guest = GuestTurns(flags)
    flags[HOST_WRITING] = 1  # type: ignore[index]
    seen: list[int] = []
    lowering = asyncio.create_task(lower_later(flags, HOST_WRITING, seen))
    began = time.monotonic()
    async with guest.writing():
        waited = time.monotonic() - began
        assert flags[WANTED] == 1  # type: ignore[index]
    await lowering
    assert seen[WANTED] == 1  # raised while it waited: the host would let it in
    assert flags[WANTED] == 0  # type: ignore[index]
    assert 0.15 < waited < 4.0
