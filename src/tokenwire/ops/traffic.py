"""The outermost middleware: a request id, one log line and the HTTP metrics for every request
and WebSocket, and the count of clients that leave in the middle of a reply.

The request id is the client's ``X-Request-ID`` when it is a sane token (at most 128 of
``A-Z a-z 0-9 . _ : / + = @ -``), else a new UUIDv7; it is returned in the response (and in
a WebSocket's handshake response) and is on every log line about the request and the reply
it started.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.http import handoff
from tokenwire.ids import uuid7
from tokenwire.ops import context
from tokenwire.ops.metrics import Metrics

__all__ = ["Traffic", "request_id_of", "route_of"]

log = logging.getLogger("tokenwire.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = str(value.decode("latin-1"))
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid7()


def route_of(scope: Scope) -> str:
    """The route template (``/api/v1/messages/{mid}``), never the raw path: one series per
    route, whatever ids clients send. Requests refused before routing are matched here."""
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                route = candidate
                break
    if route is None:
        return "unmatched"
    if isinstance(route, Mount):
        return (route.path or "") + "/{path}"
    return str(getattr(route, "path", "unmatched"))


def _with_header(message: Message, name: bytes, value: str) -> Message:
    headers = list(message.get("headers", []))
    if not any(k.lower() == name for k, _ in headers):
        headers.append((name, value.encode("latin-1")))
    return {**message, "headers": headers}


class Traffic:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        connection = context.Connection(request_id_of(scope), "websocket" if websocket else "http")
        token = context.current.set(connection)
        started = time.perf_counter()
        status = 0
        ended = False  # the response's last byte was sent
        gone = False  # the client left first

        async def observed_send(message: Message) -> None:
            nonlocal status, ended
            kind = message["type"]
            # The frames of a stream come first: one test each, then straight through.
            if kind == "websocket.send":
                await send(message)
                return
            if kind == "http.response.body":
                if not message.get("more_body", False):
                    ended = True
                await send(message)
                return
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                message = _with_header(message, b"x-request-id", connection.request_id)
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type" and value.startswith(b"text/event-stream"):
                        connection.transport = "sse"
            elif kind == "websocket.accept":
                status = 101
                self.metrics.sockets.inc()
                message = _with_header(message, b"x-request-id", connection.request_id)
            elif kind == "websocket.close" and status == 0:
                status = 403  # closed before the handshake completed: the server answers 403
            await send(message)

        async def observed_receive() -> Message:
            nonlocal gone
            message = await receive()
            if not gone and (
                (message["type"] == "http.disconnect" and not ended)
                or (message["type"] == "websocket.disconnect" and status == 101)
            ):
                gone = True
                self.metrics.client_gone(connection)
            return message

        slot = handoff.offer(scope)
        try:
            await self.app(scope, observed_receive, observed_send)
            body = slot.take()
            if body is not None:
                handoff.unwound(scope)
                # A streaming response's body or an accepted socket's session, left here once
                # its start went out (``http/handoff.py``): the layers inside have unwound, and
                # each event of a stream goes from here straight to the server.
                await body(observed_receive, observed_send)
        except BaseException:
            status = status or 500
            raise
        finally:
            context.current.reset(token)
            if status == 101:
                self.metrics.sockets.dec()
            self._record(scope, connection, status, time.perf_counter() - started, gone)

    def _record(
        self,
        scope: Scope,
        connection: context.Connection,
        status: int,
        seconds: float,
        gone: bool,
    ) -> None:
        method = "WEBSOCKET" if scope["type"] == "websocket" else scope["method"]
        route = route_of(scope)
        self.metrics.http_requests.labels(method, route, str(status)).inc()
        self.metrics.http_duration.labels(method, route).observe(seconds)
        user = scope.get("state", {}).get("user")
        client = scope.get("client")
        fields: dict[str, Any] = {
            "request_id": connection.request_id,
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "user_id": getattr(user, "id", None),
            "client_ip": client[0] if client else None,
            "transport": connection.transport,
        }
        if connection.transport != "http":
            fields["client_gone"] = gone
        log.info("request", extra={"fields": fields})
