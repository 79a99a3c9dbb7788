"""The shape both dialect WebSockets share: a reader of client frames, a watcher of replies
starting in the conversation, and one follower that streams those replies one at a time.

The seed clients keep a single "message being streamed" (seed 000's
``currentStreamingMessage``, seed 004's ``streamingMessage``), so replies are sent whole
and in the order they started, never interleaved. A reply already running when the socket
opens (a reconnect) is followed from its start, so the client sees all of its text.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from fastapi import WebSocket, WebSocketDisconnect

from tokenwire.api.sockets import run_socket, text_frames
from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.ids import MessageId, uuid7
from tokenwire.protocol.events import Event, MessageStart, coalesce
from tokenwire.protocol.frames import FrameError
from tokenwire.store.records import Conversation, Message, User

log = logging.getLogger("tokenwire.ws")


class ReplySocket(ABC):
    """One accepted dialect socket on one conversation."""

    def __init__(
        self, websocket: WebSocket, engine: Engine, user: User, conversation: Conversation
    ) -> None:
        self.ws = websocket
        self.engine = engine
        self.user = user
        self.conversation = conversation
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[MessageId] = asyncio.Queue()
        self._seen: set[MessageId] = set()
        self._own: set[str] = set()  # client_message_ids of sends made on this socket

    # what a dialect provides -----------------------------------------------------------

    async def opened(self) -> None:  # noqa: B027 - optional hook, nothing by default
        """Send what the dialect sends on connect."""

    @abstractmethod
    def frames(self, event: Event, *, own: bool) -> list[bytes]:
        """The dialect's frames for one event of a reply (``own``: sent on this socket)."""

    @abstractmethod
    async def handle(self, data: str) -> None:
        """Act on one text frame from the client; raise ``FrameError`` or
        ``TokenwireError`` to have ``rejected`` answer it."""

    @abstractmethod
    def rejected(self, code: str, message: str) -> bytes:
        """The dialect's frame for a client frame that could not be acted on."""

    # shared ----------------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.ws.send_text(data.decode())

    async def send_message(
        self, content: str, client_message_id: str | None = None, images: tuple[str, ...] = ()
    ) -> None:
        """Send a user message; its reply reaches this socket through the watcher."""
        cmid = client_message_id or uuid7()
        self._own.add(cmid)
        turn = await self.engine.send(
            self.user.id, self.conversation.id, content, client_message_id=cmid, images=images
        )
        if not turn.created:
            # A retried send starts no reply and is announced nowhere: queue the first one.
            self._queue.put_nowait(turn.assistant_message.id)

    async def cancel_running(self) -> None:
        """Stop every reply still running in this conversation."""
        for reply in await self.engine.in_flight(self.conversation.id):
            await self.engine.cancel(self.user.id, reply.id)

    async def run(self) -> None:
        async with self.engine.events.watch(self.conversation.id) as started:
            await self.opened()
            for reply in await self.engine.in_flight(self.conversation.id):
                self._queue.put_nowait(reply.id)
            tasks = [
                asyncio.create_task(self._watch(started)),
                asyncio.create_task(self._follow()),
            ]
            try:
                await self._read()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, started: AsyncIterator[MessageId]) -> None:
        async for message_id in started:
            self._queue.put_nowait(message_id)

    async def _follow(self) -> None:
        while True:
            message_id = await self._queue.get()
            if message_id in self._seen:
                continue
            self._seen.add(message_id)
            reply = await self.engine.store.find_message(message_id)
            if reply is None:
                continue
            try:
                await self._stream(reply)
            except TokenwireError as exc:
                await self.send(self.rejected(exc.code, exc.message))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return  # the socket went away; the reply goes on without it

    async def _stream(self, reply: Message) -> None:
        own = False
        async for batch in self.engine.follow(reply, -1):
            for event in coalesce(batch):
                if isinstance(event, MessageStart):
                    own = event.user_message.client_message_id in self._own
                for frame in self.frames(event, own=own):
                    await self.send(frame)

    async def _read(self) -> None:
        async for data in text_frames(self.ws):
            if data is None:
                await self.send(self.rejected("unsupported_frame", "send JSON text frames"))
                continue
            try:
                await self.handle(data)
            except FrameError as exc:
                await self.send(self.rejected(exc.code, exc.message))
            except TokenwireError as exc:
                await self.send(self.rejected(exc.code, exc.message))


async def serve(socket: ReplySocket) -> None:
    """Run an accepted socket to its end and close it cleanly."""
    await run_socket(socket.ws, socket.run, lambda exc: socket.rejected(exc.code, exc.message))
