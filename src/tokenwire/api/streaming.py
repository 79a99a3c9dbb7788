"""An SSE response whose pump, heartbeat and disconnect listener run as one task group.

The first of the three to finish ends the other two: the pump when the reply ends, the
listener when the client goes away (the reply itself goes on: it is not the connection's).
The follower hands over batches already coalesced, so a client that reads slowly gets
fewer, larger deltas instead of holding the writer back. Every SSE dialect is this
response with its own ``StreamEncoder``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Hashable, Mapping

import anyio
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tokenwire.errors import TokenwireError
from tokenwire.log.batch import Batch
from tokenwire.protocol import sse
from tokenwire.protocol.codec import CanonicalSSE, StreamEncoder
from tokenwire.protocol.events import Event
from tokenwire.tasks import first_completed

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
        events: AsyncIterator[list[Event]],
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
        headers = sse.response_headers(self._extra)
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        lock = anyio.Lock()
        disconnected = False

        async def write(body: bytes) -> None:
            async with lock:
                await send({"type": "http.response.body", "body": body, "more_body": True})

        encode = self._encoder.encode
        shared: Hashable | None = getattr(self._encoder, "shared", None)

        def body_of(batch: list[Event]) -> bytes:
            return b"".join(encode(event) for event in batch)

        async def pump() -> None:
            try:
                async for batch in self._events:
                    # Followers at one point hold the same batch: a stateless encoder's bytes
                    # are made once for all of them.
                    if shared is not None and isinstance(batch, Batch):
                        body = batch.derive(shared, body_of)
                    else:
                        body = body_of(batch)
                    if body:
                        await write(body)
            except TokenwireError as exc:  # an outage of Redis or the database
                if not disconnected:
                    log.warning("event stream ended early: %s", exc.message)
            except Exception as exc:
                if not disconnected:
                    log.error("event stream failed", exc_info=exc)

        async def heartbeat() -> None:
            with contextlib.suppress(OSError):  # the client went away: listen() says so
                while True:
                    await anyio.sleep(heartbeat_s)
                    await write(sse.comment("keep-alive"))

        async def listen() -> None:
            nonlocal disconnected
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected = True

        try:
            await first_completed(pump, heartbeat, listen)
        finally:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
        if not disconnected:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
