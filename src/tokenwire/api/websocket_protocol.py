"""The WebSocket protocol uvicorn serves sockets with: its ``websockets-sansio``
implementation, with a refused handshake counted as a completed one.

A socket refused with a real HTTP status (401, 403, 404, 503: the WebSocket Denial Response
ASGI extension, ``api.ws.deny``) is written out correctly, but uvicorn's sans-I/O protocol
never marks the handshake done after it, so every refusal also logs "ASGI callable returned
without completing handshake." at ERROR (uvicorn pull request #3138 makes the same change
upstream; its wsproto implementation already behaves so). ERROR is kept for faults of the
server; a refused client is not one.

What an open socket holds is also trimmed: its queue of received messages is an ``Inbox``
(``asyncio.Queue`` keeps about 2 KiB of deques even when empty; uvicorn reads it with one
reader, through ``get``, ``put_nowait`` and ``empty`` alone), and the handshake's response,
which uvicorn no longer reads once the socket is accepted, is let go then.
"""

from __future__ import annotations

from typing import Any

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tokenwire.log.watchers import Inbox

__all__ = ["WebSocketProtocol"]


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]

    async def send(self, message: ASGISendEvent) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            self.response = None  # type: ignore[assignment]
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True  # refused: the handshake is over
