"""Refusing a request from middleware with the same error body the routes give."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from tokenwire.errors import TokenwireError

__all__ = ["refuse"]


async def refuse(scope: Scope, receive: Receive, send: Send, exc: TokenwireError) -> None:
    """Answer with the error body of ``exc``: as an HTTP response, or as the HTTP response
    that refuses a WebSocket handshake (a close, where the server cannot send one)."""
    # Imported here, not above: the api package imports ops while it builds the app.
    from tokenwire.api.errors import error_response
    from tokenwire.api.ws import deny

    if scope["type"] == "websocket":
        await deny(WebSocket(scope, receive, send), exc)
    else:
        await error_response(exc)(scope, receive, send)
