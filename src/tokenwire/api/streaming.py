"""An SSE response whose pump, heartbeat and disconnect listener run as one group.

The first of the three to finish ends the other two: the pump when the reply ends, the
listener when the client goes away (the reply itself goes on: it is not the connection's).
Each batch the pump takes from the log is coalesced first, so a client that reads slowly
gets fewer, larger deltas instead of holding the writer back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tokenwire.errors import TokenwireError
from tokenwire.protocol import sse
from tokenwire.protocol.events import Event, coalesce, encode, event_type

log = logging.getLogger("tokenwire.api")

Encoder = Callable[[Event], bytes]

SSE_HEADERS = {
    "cache-control": "no-cache",
    "x-accel-buffering": "no",  # nginx: pass each event through as it comes
    "connection": "keep-alive",
}


def canonical_sse(event: Event) -> bytes:
    """``id: <seq>``, ``event: <type>``, ``data: <canonical JSON>``."""
    return sse.encode(encode(event), event=event_type(event), id=event.seq)


class EventStream(Response):
    """An ASGI response streaming ``events`` through ``encoder`` as ``text/event-stream``."""

    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[list[Event]],
        *,
        encoder: Encoder = canonical_sse,
        heartbeat_s: float = 15.0,
        headers: Mapping[str, str] | None = None,
        prelude: bytes = b"",
        trailer: Callable[[], bytes] | None = None,
        status_code: int = 200,
    ) -> None:
        self._events = events
        self._encoder = encoder
        self._heartbeat_s = heartbeat_s
        self._extra = {**SSE_HEADERS, **(headers or {})}
        self._prelude = prelude
        self._trailer = trailer
        self.status_code = status_code
        self.background: BackgroundTask | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self._extra.items()]
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        lock = asyncio.Lock()
        disconnected = False

        async def write(body: bytes) -> None:
            async with lock:
                await send({"type": "http.response.body", "body": body, "more_body": True})

        async def pump() -> None:
            if self._prelude:
                await write(self._prelude)
            async for batch in self._events:
                body = b"".join(self._encoder(event) for event in coalesce(batch))
                if body:
                    await write(body)
            if self._trailer is not None:
                await write(self._trailer())

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(self._heartbeat_s)
                await write(sse.comment("keep-alive"))

        async def listen() -> None:
            nonlocal disconnected
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected = True

        tasks = [
            asyncio.create_task(pump()),
            asyncio.create_task(heartbeat()),
            asyncio.create_task(listen()),
        ]
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None and not disconnected:
                if isinstance(exc, TokenwireError):  # an outage of Redis or the database
                    log.warning("event stream ended early: %s", exc.message)
                else:
                    log.error("event stream failed", exc_info=exc)
        if not disconnected:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
