"""An SSE response whose pump and watcher (heartbeat and disconnect) end together.

The first of the two to finish ends the other: the pump when the reply ends, the watcher
when the client goes away (the reply itself goes on: it is not the connection's). Once its
start is sent, the response hands its body to the outermost middleware
(``http/handoff.py``), so that an open stream keeps no layer inside it alive.
The follower hands over batches already coalesced, so a client that reads slowly gets
fewer, larger deltas instead of holding the writer back. Every SSE dialect is this
response with its own ``StreamEncoder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tokenwire.engine.following import Following
from tokenwire.errors import TokenwireError
from tokenwire.http import handoff
from tokenwire.log import delivery
from tokenwire.log.batch import Batch
from tokenwire.protocol import sse
from tokenwire.protocol.codec import CanonicalSSE, StreamEncoder
from tokenwire.protocol.events import Event

log = logging.getLogger("tokenwire.api")

SSE_HEADERS = sse.HEADERS

CANONICAL = CanonicalSSE()


class EventStream(Response):
    """An ASGI response streaming ``events`` through ``encoder`` as ``text/event-stream``.

    The heartbeat (a comment line) comes every ``heartbeat_s``, by default the app's
    ``sse_heartbeat_s`` setting.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        events: Following,
        encoder: StreamEncoder = CANONICAL,
        *,
        heartbeat_s: float | None = None,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> None:
        self._events = events
        self._encoder = encoder
        self._heartbeat_s = heartbeat_s
        self._extra = {**SSE_HEADERS, **(headers or {})}
        self.status_code = status_code
        self.background: BackgroundTask | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        heartbeat_s = self._heartbeat_s
        if heartbeat_s is None:
            heartbeat_s = float(scope["app"].state.settings.sse_heartbeat_s)
        self._heartbeat_s = heartbeat_s
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": sse.response_headers(self._extra),
            }
        )
        # The start went through every layer; the body needs none of them, and an idle
        # stream that keeps them all suspended holds about a third more memory.
        if not handoff.hand_off(scope, self._body):
            await self._body(receive, send)

    async def _body(self, receive: Receive, send: Send) -> None:
        heartbeat_s = self._heartbeat_s
        assert heartbeat_s is not None  # set by ``__call__``
        # The heartbeat and the pump share the connection without a lock: every write is
        # whole events (or the heartbeat's comment) in one message, which uvicorn writes in
        # one piece, and a comment between two events, in either order, changes nothing. The
        # pump's writes keep their order since one task makes them all; the last one comes
        # after the watcher is cancelled, so no heartbeat follows it.
        disconnected = False

        async def write(body: bytes) -> None:
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def watch(pumping: asyncio.Task[Any]) -> None:
            # The client's disconnect and the heartbeat in one task, the pump running in the
            # request's own: an idle stream holds two tasks. A client has nothing more to
            # send, so waiting for its next message at most ``heartbeat_s`` is waiting for its
            # disconnect, with a heartbeat each time the wait runs out.
            nonlocal disconnected
            while True:
                try:
                    async with asyncio.timeout(heartbeat_s):
                        while (await receive())["type"] != "http.disconnect":
                            pass
                except TimeoutError:
                    with contextlib.suppress(OSError):  # gone: the next receive says so
                        await write(sse.comment("keep-alive"))
                    continue
                disconnected = True
                pumping.cancel()  # the pump: the reply goes on without this client
                return

        pumping = asyncio.current_task()
        assert pumping is not None
        watcher = asyncio.create_task(watch(pumping))
        try:
            try:
                await self._pump(send, lambda: disconnected)
            finally:
                watcher.cancel()
            if not disconnected:
                with contextlib.suppress(OSError):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            # The watcher's cancel ends the pump; any other (the server's) goes on up.
            if not disconnected or pumping.uncancel() > 0:
                raise

    async def _pump(self, send: Send, gone: Callable[[], bool]) -> None:
        encode = self._encoder.encode
        shared: Hashable | None = getattr(self._encoder, "shared", None)

        def body_of(batch: list[Event]) -> bytes:
            return b"".join(encode(event) for event in batch)

        def deliver(batch: Batch) -> Awaitable[None] | None:
            # Followers at one point hold the same batch: a stateless encoder's bytes are
            # made once for all of them.
            body = body_of(batch) if shared is None else batch.derive(shared, body_of)
            if not body:
                return None
            # Written now, from whichever task delivers (for a live reply, the one that
            # appended the event); only a full connection leaves the rest to this one.
            return delivery.eager(
                send({"type": "http.response.body", "body": body, "more_body": True})
            )

        try:
            await self._events.relay(deliver)
        except TokenwireError as exc:  # an outage of Redis or the database
            if not gone():
                log.warning("event stream ended early: %s", exc.message)
        except Exception as exc:
            if not gone():
                log.error("event stream failed", exc_info=exc)
