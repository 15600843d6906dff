"""A real HTTP receiver on a free loopback port, answering each POST from a script."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.unit.http_server import QuietHandler, serving


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    script: list[int]
    """Status codes to answer, in order; 200 once exhausted."""
    requests: list[Received] = field(default_factory=list)


@contextmanager
def receiver(*script: int) -> Iterator[Receiver]:
    state = Receiver(url="", script=list(script))

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as base:
        state.url = f"{base}/hooks/alerts"
        yield state
