"""A streaming body's chunks written straight to the connection, past ASGI's ``send``.

Each event of a live reply goes to every follower's connection from the task that appended
it (``log/delivery.py``). Through ASGI, that is a message dict, then a coroutine for each
``send`` in the chain (the outermost middleware's, then uvicorn's), run and ended, to make
one ``transport.write`` of a chunk that is the same for every follower of the reply: about
half of a follower's share of the event loop's work when a reply has many.

uvicorn's HTTP/1.1 protocol on httptools (``tokenwire serve`` runs it) hands the app the
bound ``send`` of its ``RequestResponseCycle``, which holds the connection's transport and
flow control. ``exposing`` wraps the app so that the scope of an HTTP request carries that
cycle; ``writer`` then gives a response a function that writes a chunk, framed as uvicorn
frames it, directly, while doing so is exactly what uvicorn's ``send`` would do: the
response has started chunked, is not complete, is not to a HEAD request, the client is
connected and the transport's buffer is not full. Otherwise the function writes nothing and
says so, and the caller sends through ASGI, whose ``send`` waits for the buffer to drain. A
caller that goes on writing directly after ``send`` has waited must do so only once that
send is done (the event log's followers do: a follower whose write waits gets nothing more
until it has).

Under any other server, or another protocol (h11 keeps a state machine that every chunk must
pass through), the scope carries no cycle and everything goes through ``send``.
``tests/http/test_chunks.py`` runs this against the uvicorn installed.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

__all__ = ["Writer", "chunk", "exposing", "writer"]

KEY = "tokenwire.cycle"

# Writes one framed chunk; False when it did not, and the body goes through ``send``.
Writer = Callable[[bytes], bool]


def exposing(app: ASGIApp) -> ASGIApp:
    """``app``, its HTTP requests' scopes carrying uvicorn's cycle where there is one."""

    async def exposed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cycle = getattr(send, "__self__", None)
            if isinstance(cycle, RequestResponseCycle):
                scope[KEY] = cycle
        await app(scope, receive, send)

    return exposed


def chunk(body: bytes) -> bytes:
    """``body`` framed as one chunk of a chunked HTTP/1.1 body, as uvicorn frames it."""
    return b"%x\r\n%b\r\n" % (len(body), body)


def writer(scope: Scope) -> Writer | None:
    """A function writing framed chunks (``chunk``) of this response's body straight to its
    connection, or None where there is no cycle to write through."""
    cycle = scope.get(KEY)
    if not isinstance(cycle, RequestResponseCycle) or scope.get("method") == "HEAD":
        return None
    transport = cycle.transport
    flow = cycle.flow

    def write(framed: bytes) -> bool:
        if (
            cycle.disconnected
            or flow.write_paused
            or cycle.response_complete
            or cycle.chunked_encoding is not True
        ):
            return False
        transport.write(framed)
        return True

    return write
