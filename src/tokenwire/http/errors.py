"""A ``TokenwireError`` as an HTTP answer: ``{"error": {"code", "message"}}`` with its status
and the headers that status asks for, or the refusal of a WebSocket handshake."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from tokenwire.errors import TokenwireError
from tokenwire.protocol.resources import ErrorBody, ErrorDetail

__all__ = [
    "deny",
    "error_answer",
    "error_body",
    "error_response",
    "refuse",
    "retry_after",
    "status_headers",
]


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` value for a wait of ``seconds``: whole seconds, at least one
    (RFC 9110 section 10.2.3: a non-negative integer of seconds)."""
    return str(max(1, round(seconds)))


def status_headers(exc: TokenwireError) -> dict[str, str]:
    """The headers an error status asks for: ``Retry-After``, ``WWW-Authenticate``."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = retry_after(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def error_body(
    code: str, message: str, *, retryable: bool | msgspec.UnsetType = msgspec.UNSET
) -> bytes:
    return msgspec.json.encode(
        ErrorBody(ErrorDetail(code=code, message=message, retryable=retryable))
    )


def error_answer(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error that is not a ``TokenwireError`` (a framework's 404, a validation failure)."""
    return Response(
        error_body(code, message), status, headers=headers, media_type="application/json"
    )


def error_response(exc: TokenwireError) -> Response:
    waiting_helps = exc.status >= 500 or exc.status == 429
    return Response(
        error_body(
            exc.code, exc.message, retryable=exc.retryable if waiting_helps else msgspec.UNSET
        ),
        exc.status,
        headers=status_headers(exc),
        media_type="application/json",
    )


async def deny(websocket: WebSocket, exc: TokenwireError) -> None:
    """Refuse the handshake with a real HTTP status (401, 404) where the server can send one."""
    try:
        await websocket.send_denial_response(error_response(exc))
    except RuntimeError:
        await websocket.close(code=4000 + exc.status, reason=exc.message[:120])


async def refuse(scope: Scope, receive: Receive, send: Send, exc: TokenwireError) -> None:
    """Answer with the error body of ``exc`` from middleware: as an HTTP response, or as the
    HTTP response that refuses a WebSocket handshake (a close, where the server cannot send
    one)."""
    if scope["type"] == "websocket":
        await deny(WebSocket(scope, receive, send), exc)
    else:
        await error_response(exc)(scope, receive, send)
