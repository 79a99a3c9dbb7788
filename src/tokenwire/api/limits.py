"""Request body limit, enforced while the body streams in rather than after it is buffered."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.errors import PayloadTooLarge
from tokenwire.http.errors import error_response


class BodyLimit:
    """Answer 413 when a request body exceeds ``max_bytes``, by its Content-Length or as the
    bytes arrive (a chunked upload has no Content-Length to trust)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
                if value.isdigit() and int(value) > self.max_bytes:
                    await self._reject(scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and (length is None or length.isdigit()):
            # The body's length is known and within the limit (a request with neither header
            # has none: RFC 9112, 6.3): nothing to count, and no wrapper on every send of a
            # response that may stream for minutes.
            await self.app(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        exc = PayloadTooLarge(f"request body is larger than {self.max_bytes} bytes")
        await error_response(exc)(scope, receive, send)


class _TooLarge(Exception):
    pass
