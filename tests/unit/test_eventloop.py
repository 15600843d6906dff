"""The services' event loop: uvloop by default, asyncio's own on request, a clear error else."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from transport import eventloop


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.EVENT_LOOP_ENV, raising=False)
    assert eventloop.chosen_loop() == "uvloop"
    assert issubclass(eventloop.run(_loop_type()), uvloop.Loop)


@pytest.mark.parametrize("value", ["asyncio", " AsyncIO "])
def test_the_standard_loop_when_asked(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(eventloop.EVENT_LOOP_ENV, value)
    assert eventloop.chosen_loop() == "asyncio"
    got = eventloop.run(_loop_type())
    assert not issubclass(got, uvloop.Loop)
    assert issubclass(got, asyncio.BaseEventLoop)


def test_run_returns_the_coroutines_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.EVENT_LOOP_ENV, raising=False)

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    assert eventloop.run(add(2, 3)) == 5


def test_an_unknown_loop_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.EVENT_LOOP_ENV, "trio")
    coro = _loop_type()
    with pytest.raises(eventloop.EventLoopError, match=r"EMINING_EVENT_LOOP='trio'.*uvloop"):
        eventloop.run(coro)
    assert coro.cr_frame is None  # closed: no "coroutine was never awaited" warning later
