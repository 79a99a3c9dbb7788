"""The canonical WebSocket: ``/api/v1/conversations/{cid}/ws``.

Every socket open on a conversation receives every reply that starts in it (two tabs see
the same stream). A reply already running when the socket opened is followed on request,
with ``stream.resume``. Client rules that make this exact: ``message.start`` resets a
message's text; a delta whose seq is not above the last one applied is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from tokenwire.api.deps import authenticate, get_engine
from tokenwire.api.sockets import run_socket, text_frames
from tokenwire.engine import Engine
from tokenwire.errors import NotFound, TokenwireError
from tokenwire.http.errors import deny as deny  # where the dialects' sockets find it
from tokenwire.ids import MessageId
from tokenwire.protocol import frames
from tokenwire.protocol.events import coalesce, encode
from tokenwire.store.records import Conversation, Message, User

router = APIRouter(prefix="/api/v1", tags=["websocket"])
log = logging.getLogger("tokenwire.ws")


async def open_socket(websocket: WebSocket, cid: str) -> tuple[Engine, User, Conversation] | None:
    """Authenticate and find the conversation before accepting; ``None`` when denied."""
    engine = get_engine(websocket)
    try:
        user = await authenticate(websocket)
        conversation = await engine.store.get_conversation(user.id, cid)
    except TokenwireError as exc:
        await deny(websocket, exc)
        return None
    return engine, user, conversation


class Session:
    """One accepted socket: a reader of client frames and one follower task per reply."""

    def __init__(
        self, websocket: WebSocket, engine: Engine, user: User, conversation: Conversation
    ) -> None:
        self.ws = websocket
        self.engine = engine
        self.user = user
        self.conversation = conversation
        self._lock = asyncio.Lock()
        self._follows: dict[MessageId, asyncio.Task[None]] = {}
        self._sent: dict[MessageId, int] = {}

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.ws.send_text(data.decode())

    async def run(self) -> None:
        async with self.engine.events.watch(self.conversation.id) as started:
            watcher = asyncio.create_task(self._watch(started))
            try:
                await self._read()
            finally:
                watcher.cancel()
                for task in self._follows.values():
                    task.cancel()
                await asyncio.gather(watcher, *self._follows.values(), return_exceptions=True)

    async def _watch(self, started: AsyncIterator[MessageId]) -> None:
        async for message_id in started:
            reply = await self.engine.store.find_message(message_id)
            if reply is not None:
                self.follow(reply, -1)

    def follow(self, reply: Message, after: int) -> None:
        """Follow ``reply`` on this socket from ``after``, unless the frames already sent or on
        their way cover that point: the socket delivers in order, so they fill the gap."""
        task = self._follows.get(reply.id)
        if task is not None and not task.done():
            if after <= self._sent.get(reply.id, -1):
                return
            task.cancel()
        self._sent[reply.id] = after
        self._follows[reply.id] = asyncio.create_task(self._pump(reply, after))

    async def _pump(self, reply: Message, after: int) -> None:
        try:
            async for batch in self.engine.follow(reply, after):
                for event in coalesce(batch):
                    await self.send(encode(event))
                    self._sent[reply.id] = event.seq
        except TokenwireError as exc:
            await self.send(frames.error_frame(exc.code, exc.message, ref=reply.id))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the socket went away; the reply goes on without it

    async def _read(self) -> None:
        async for data in text_frames(self.ws):
            if data is None:
                await self.send(frames.error_frame("unsupported_frame", "send JSON text frames"))
                continue
            try:
                frame = frames.decode_client_frame(data)
            except frames.FrameError as exc:
                await self.send(frames.error_frame(exc.code, exc.message))
                continue
            try:
                await self._handle(frame)
            except TokenwireError as exc:
                ref = getattr(frame, "message_id", None)
                sent = getattr(frame, "client_message_id", None)
                error = frames.error_frame(exc.code, exc.message, ref=ref, client_message_id=sent)
                await self.send(error)

    async def _handle(self, frame: frames.ClientFrame) -> None:
        if isinstance(frame, frames.Ping):
            await self.send(frames.pong())
        elif isinstance(frame, frames.Send):
            turn = await self.engine.send(
                self.user.id,
                self.conversation.id,
                frame.content,
                client_message_id=frame.client_message_id,
                images=frame.images,
            )
            if not turn.created:
                # A retried send: no new reply starts, so replay the first one to this socket.
                self.follow(turn.assistant_message, -1)
        elif isinstance(frame, frames.Cancel):
            reply = await self._own_reply(frame.message_id)
            await self.engine.cancel(self.user.id, reply.id)
        elif isinstance(frame, frames.Resume):
            reply = await self._own_reply(frame.message_id)
            self.follow(reply, frame.after)

    async def _own_reply(self, message_id: str) -> Message:
        reply = await self.engine.store.get_message(self.user.id, message_id)
        if reply.conversation_id != self.conversation.id or reply.role != "assistant":
            raise NotFound(f"reply {message_id} not found in this conversation")
        return reply


@router.websocket("/conversations/{cid}/ws")
async def conversation_socket(websocket: WebSocket, cid: str) -> None:
    opened = await open_socket(websocket, cid)
    if opened is None:
        return
    engine, user, conversation = opened
    await websocket.accept()
    session = Session(websocket, engine, user, conversation)
    await run_socket(websocket, session.run, lambda exc: frames.error_frame(exc.code, exc.message))
