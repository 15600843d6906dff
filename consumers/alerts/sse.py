"""``GET /v1/alerts/stream``: the authenticated organisation's alerts as server-sent events.

The stream reads only ``emining.alerts.<org>`` of the organisation whose API key the request
carries, and passes on only alerts signed by the platform and addressed to that organisation.
Each event's ``id`` is the stream position (``partition:next offset`` per partition, comma
separated); send it back as ``Last-Event-ID`` to resume where a dropped connection stopped.

The framing, keep-alive comments and disconnect handling are ``sse-starlette``'s
(``EventSourceResponse``). That library also ends every open stream when uvicorn is told to
exit (SIGTERM, Ctrl-C), so a server shuts down without waiting on its streams; the clients'
``EventSource`` reconnects with ``Last-Event-ID``. Its exit flag (``AppStatus.should_exit``) is
process-wide and never reset by the library: ``create_stream_router`` clears it, so an app built
after another one in the same process exited (tests serve many) does not end each of its streams
at once.
"""

# No ``from __future__ import annotations``: FastAPI reads these annotations at run time.

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import AppStatus
from starlette.background import BackgroundTask

from consumers.alerts.http import organisation_of
from consumers.alerts.reader import AlertVerifier, Position, Received, follow
from producers.gateway_auth import ApiKeyStore
from schemas.common import Language
from transport.access import KafkaAccess

log = structlog.get_logger("consumers.alerts.sse")

KEEPALIVE_S = 15.0
SEP = "\n"
"""Line ends of the stream: LF, as before sse-starlette (whose default is CRLF)."""
_END = object()


def parse_position(text: str | None) -> Position | None:
    """``"0:16,1:4"`` → ``{0: 16, 1: 4}``; None when absent or malformed."""
    if not text:
        return None
    try:
        return {int(p): int(o) for p, o in (part.split(":") for part in text.split(","))}
    except ValueError:
        return None


def format_position(position: Position) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(position.items()))


def sse_event(item: Received, position: Position, language: Language | None) -> ServerSentEvent:
    """``id: <position>``, ``event: alert``, ``data: <JSON>`` (one line: JSON escapes newlines)."""
    alert = item.alert
    lang = language or alert.language
    payload = {
        "alert_id": alert.alert_id, "rule": alert.rule.value, "severity": alert.severity.value,
        "about": alert.about, "due_on": alert.due_on.isoformat() if alert.due_on else None,
        "language": lang.value, "text": alert.texts.in_language(lang),
        "alert": alert.model_dump(mode="json", exclude_none=True),
    }
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(body, id=format_position(position), event="alert", sep=SEP)


def comment(text: str) -> ServerSentEvent:
    """``: <text>``, which an ``EventSource`` ignores (the connection note, the keep-alives)."""
    return ServerSentEvent(comment=text, sep=SEP)


@dataclass(frozen=True, slots=True)
class Source:
    """Where streams read from, and how often an idle one says it is alive."""

    kafka: KafkaAccess
    verifier: AlertVerifier
    keepalive_s: float = KEEPALIVE_S


class Stream:
    """One connection: a task pumping the topic into a queue, and the events it yields.

    When the client goes away (or the server exits) the response cancels the generator, which
    tells the pump to stop; the response's background task then waits for the pump to end.
    """

    def __init__(self, source: Source, org: str, start: Position | None, from_beginning: bool,
                 language: Language | None) -> None:
        self.source, self.org, self.start, self.language = source, org, start, language
        self.from_beginning = from_beginning
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=1000)
        self.task: asyncio.Task[None] | None = None
        self.stop = asyncio.Event()
        self.log = log.bind(org=org)

    async def pump(self) -> None:
        try:
            async for item in follow(self.source.kafka, self.org, self.source.verifier,
                                     start=self.start, from_beginning=self.from_beginning,
                                     stop=self.stop):
                if self.queue.full():  # a client that stopped reading: let it go
                    break
                self.queue.put_nowait(item)
        finally:
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(_END)

    async def close(self) -> None:
        if self.task is None:
            return
        task, self.task = self.task, None
        self.stop.set()  # the pump's consumer stops between two polls, without a cancel
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(asyncio.shield(task), 5.0)  # it stops within one poll
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not task.cancelled() and task.exception() is not None:
            self.log.error("alert_stream_failed", error=repr(task.exception())[:300])
        self.log.info("alert_stream_closed")

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        position: Position = dict(self.start or {})
        self.task = asyncio.create_task(self.pump())
        self.log.info("alert_stream_opened")
        try:
            yield comment("connected")
            while True:
                item = await self.queue.get()  # keep-alives are the response's, meanwhile
                if item is _END:
                    return
                if isinstance(item, Exception):
                    self.log.warning("alert_record_refused", reason=str(item)[:300])
                    continue
                assert isinstance(item, Received)
                position[item.partition] = item.offset + 1
                self.log.debug("alert_streamed", alert_id=item.alert.alert_id)
                yield sse_event(item, position, self.language)
        finally:
            # no await here: a disconnect cancels this scope again at every await, so the
            # pump is only told to stop; the response's background task waits for it
            self.stop.set()

    def response(self) -> EventSourceResponse:
        return EventSourceResponse(
            self.events(), background=BackgroundTask(self.close), sep=SEP,
            ping=self.source.keepalive_s, ping_message_factory=lambda: comment("keep-alive"),
            headers={"Cache-Control": "no-cache"})


def create_stream_router(api_keys: ApiKeyStore, kafka: KafkaAccess, verifier: AlertVerifier,
                         *, keepalive_s: float = KEEPALIVE_S) -> APIRouter:
    AppStatus.should_exit = False  # a new app: no exit pending (see the module's docstring)
    router = APIRouter(tags=["alerts"])
    Org = Annotated[str, Depends(organisation_of(api_keys))]  # noqa: N806 - a type alias
    source = Source(kafka, verifier, keepalive_s)

    @router.get("/alerts/stream", response_class=EventSourceResponse,
                responses={200: {"content": {"text/event-stream": {}},
                                 "description": "Server-sent events, one per alert"}})
    async def stream(
        org: Org,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        lang: Annotated[Language | None, Query(description="text language; default: the "
                                                "organisation's preferred one")] = None,
        from_beginning: Annotated[bool, Query(description="replay the alerts topic")] = False,
    ) -> EventSourceResponse:
        """Your organisation's alerts as they are raised (``event: alert``, JSON data)."""
        stream = Stream(source, org, parse_position(last_event_id), from_beginning, lang)
        return stream.response()

    return router
