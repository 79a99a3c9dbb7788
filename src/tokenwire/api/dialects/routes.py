"""What every dialect router shares: errors in the dialect's own shape, and a socket's wiring.

A dialect's clients cannot read tokenwire's canonical ``{"error": {...}}`` body, so each
router is built with ``dialect_route(body)``: any ``TokenwireError`` raised while handling
one of its requests (authentication included) is answered with the error's status and
``body(error)``. Routes that stream SSE (declared with ``responses=SSE``) answer with
``sse_body(error)`` instead when the dialect has one, as an event its client's parser can
show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from tokenwire.api.sockets import ConversationSocket, serve
from tokenwire.api.ws import open_socket
from tokenwire.engine import Engine
from tokenwire.errors import BadRequest, TokenwireError
from tokenwire.http.errors import status_headers
from tokenwire.protocol import sse
from tokenwire.protocol.codec import SocketCodec
from tokenwire.store import Conversation, User

ErrorBody = Callable[[TokenwireError], bytes]

# The ``responses=`` of a route that answers with an event stream.
SSE: dict[int | str, Any] = {200: {"content": {sse.CONTENT_TYPE.split(";")[0]: {}}}}


def dialect_route(body: ErrorBody, sse_body: ErrorBody | None = None) -> type[APIRoute]:
    """An ``APIRoute`` class whose errors are the dialect's: ``body`` as JSON, or
    ``sse_body`` as an event stream on routes that stream."""

    class DialectRoute(APIRoute):
        def refusal(self, error: TokenwireError) -> Response:
            """``error`` as this route answers it."""
            headers = status_headers(error)
            if self.streams and sse_body is not None:
                headers.update(sse.HEADERS)
                return Response(sse_body(error), error.status, headers, sse.CONTENT_TYPE)
            return Response(body(error), error.status, headers, "application/json")

        @property
        def streams(self) -> bool:
            return sse_body is not None and any(
                sse.CONTENT_TYPE.split(";")[0] in (answer.get("content") or {})
                for answer in self.responses.values()
            )

        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except TokenwireError as exc:
                    error = exc
                except RequestValidationError as exc:
                    details = "; ".join(str(e.get("msg", e)) for e in exc.errors()[:3])
                    error = BadRequest(f"invalid request: {details}")
                return self.refusal(error)

            return guarded

    return DialectRoute


async def serve_socket(
    websocket: WebSocket,
    find: Callable[[Engine, User], Awaitable[Conversation]],
    codec: Callable[[Conversation], SocketCodec],
) -> None:
    """Serve a dialect's socket on the conversation ``find`` names, in ``codec``'s frames;
    a refused handshake (``api/ws.open_socket``) ends it there."""
    opened = await open_socket(websocket, find)
    if opened is not None:
        await serve(ConversationSocket(websocket, *opened, codec(opened[2])))
