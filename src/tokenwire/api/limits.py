"""Request body limit, enforced while the body streams in rather than after it is buffered."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.errors import PayloadTooLarge
from tokenwire.http.errors import error_response


class BodyTooLarge(PayloadTooLarge, HTTPException):
    """Raised into the route by its ``receive``, so that the route answers it in its own
    shape (a dialect's: seed 003's client reads only SSE ``data:`` lines). It is a
    starlette ``HTTPException`` too, which FastAPI's body parsing lets through instead of
    turning it into a 400."""

    def __init__(self, max_bytes: int) -> None:
        PayloadTooLarge.__init__(self, f"request body is larger than {max_bytes} bytes")
        self.status_code = self.status
        self.detail = self.message
        self.headers = None


class BodyLimit:
    """Answer 413 when a request body exceeds ``max_bytes``, by its Content-Length (before a
    byte of it is read) or as the bytes arrive (a chunked upload has no Content-Length to
    trust)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = 0
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            if declared > self.max_bytes:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # no route answered it (none read the body)
            if not started:
                await error_response(exc)(scope, receive, send)
