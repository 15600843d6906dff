"""Serve a FastAPI app with uvicorn on a free loopback port for the duration of a test, in the
test's own event loop (the app's stores and tasks live there)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[tuple[str, uvicorn.Server, asyncio.Task[None]]]:
    """The base URL of ``app`` served by a real uvicorn server, the server and its task (a test
    may stop it itself); stopped afterwards."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # uvicorn could not start: its error
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server, task
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The base URL of ``app`` served by a real uvicorn server."""
    async with served(app) as (url, _, _):
        yield url
