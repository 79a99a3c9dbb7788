"""What every WebSocket route shares: reading text frames, and running a socket to a clean
close, whatever the wire protocol spoken on it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from tokenwire.errors import TokenwireError


async def text_frames(websocket: WebSocket) -> AsyncIterator[str | None]:
    """The client's frames until it disconnects: the text of each text frame, and None for
    a binary frame (which no protocol here uses: the caller answers it with an error)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        yield message.get("text")


async def run_socket(
    websocket: WebSocket,
    run: Callable[[], Awaitable[None]],
    error_frame: Callable[[TokenwireError], bytes],
) -> None:
    """Run an accepted socket's session to its end and close it cleanly.

    A session that cannot go on (the event log out of reach: Redis down) gets its error in
    the dialect's shape (``error_frame``) and a close with 1013, "try again later" (RFC 6455,
    7.4.1), rather than failing inside the handler. A client that went away is no fault:
    the request line (``tokenwire.http``, ``client_gone``) is all that is logged of it.
    """
    try:
        await run()
    except WebSocketDisconnect:
        return
    except TokenwireError as exc:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.send_text(error_frame(exc).decode())
            await websocket.close(code=1013, reason=exc.message[:120])
        return
    if (
        websocket.application_state is WebSocketState.CONNECTED
        and websocket.client_state is WebSocketState.CONNECTED
    ):
        # The client may go between the check and the close frame: that is no error either.
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close()
