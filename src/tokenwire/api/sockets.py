"""The one WebSocket engine: a ``ConversationSocket`` serves every WebSocket dialect, the
canonical one included, through that dialect's ``SocketCodec`` (``protocol/codec.py``).

A socket open on a conversation watches it: every reply that starts there is followed and
sent through the codec, whoever sent the message (two tabs see the same stream). How the
replies are sent is the codec's ``ordering``: interleaved, each reply as it comes (the
canonical socket; a reply running when the socket opened is followed on ``stream.resume``),
or one at a time, whole and in the order they started, a running one from its start (the
seed clients keep a single "message being streamed"). A one-at-a-time socket that closes
mid-reply leaves a note with the conversation (``api/deliveries.py``); its next socket,
opened soon after on any instance, continues that reply after the last frame written rather
than from its start, because the seed clients keep their partial text across a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette import types as asgi
from starlette.websockets import WebSocketState

from tokenwire.api import deliveries
from tokenwire.engine import Engine
from tokenwire.errors import TokenwireError
from tokenwire.http import handoff
from tokenwire.ids import MessageId, uuid7
from tokenwire.log import delivery
from tokenwire.log.batch import Batch
from tokenwire.log.watchers import Inbox
from tokenwire.protocol.codec import Command, Ordering, SocketCodec, StopRunning
from tokenwire.protocol.events import Event, MessageStart, is_terminal
from tokenwire.protocol.frames import (
    Cancel,
    Continue,
    FrameError,
    Ping,
    Regenerate,
    Resume,
    Send,
)
from tokenwire.protocol.option_fields import turn_fields
from tokenwire.protocol.options import ById, TurnOptions
from tokenwire.store.records import Conversation, Message, User

log = logging.getLogger("tokenwire.ws")

# What a socket that went away raises from a send: the reply goes on without it.
GONE = (WebSocketDisconnect, RuntimeError, OSError)


class ConversationSocket:
    """One accepted socket on one conversation."""

    def __init__(
        self,
        websocket: WebSocket,
        engine: Engine,
        user: User,
        conversation: Conversation,
        codec: SocketCodec,
    ) -> None:
        self.ws = websocket
        self.engine = engine
        self.user = user
        self.conversation = conversation
        self.codec = codec
        self._lock = asyncio.Lock()
        self._follows: dict[MessageId, asyncio.Task[bool]] = {}
        self._sent: dict[MessageId, int] = {}  # per reply, the last seq sent or on its way
        # one at a time: the replies in order, each with the seq to follow it after
        self._queue: Inbox[tuple[MessageId, int]] = Inbox()
        self._notes = deliveries.notes_of(websocket)
        # one at a time: the reply streaming now and the last seq written (for the note)
        self._progress = deliveries.Watch()
        self._seen: set[MessageId] = set()
        self._own: set[str] = set()  # client_message_ids of sends made on this socket

    async def send(self, data: bytes) -> None:
        async with self._lock:
            await self.ws.send_text(data.decode())

    def _write(self, frames: list[bytes]) -> Awaitable[None] | None:
        """``frames`` written now when no other write is under way; else (or once one of
        them has to wait for the connection) the rest in order, behind the lock."""
        if not self._lock.locked():
            for i, frame in enumerate(frames):
                pending = delivery.eager(self.ws.send_text(frame.decode()))
                if pending is not None:
                    return delivery.eager(self._write_after(pending, frames[i + 1 :]))
            return None
        return delivery.eager(self._write_after(None, frames))

    async def _write_after(self, pending: Awaitable[None] | None, frames: list[bytes]) -> None:
        async with self._lock:
            if pending is not None:
                await pending
            for frame in frames:
                await self.ws.send_text(frame.decode())

    async def run(self) -> None:
        self._notes.opened(self.conversation.id, self._progress)
        try:
            await self._run()
        finally:
            await self._notes.closed(
                self.engine, self.user.id, self.conversation.id, self._progress
            )

    async def _run(self) -> None:
        async with self.engine.watch(self.conversation.id) as started:
            for frame in self.codec.opened():
                await self.send(frame)
            tasks: list[asyncio.Task[Any]] = [asyncio.create_task(self._watch(started))]
            if self.codec.ordering is Ordering.ONE_AT_A_TIME:
                left = await self._notes.take(self.engine, self.conversation, self._progress)
                if left is not None:
                    self._queue.put_nowait((left.reply_id, left.seq))
                for reply in await self.engine.in_flight(self.conversation.id):
                    self._queue.put_nowait((reply.id, -1))
                tasks.append(asyncio.create_task(self._one_at_a_time()))
            try:
                await self._read()
            finally:
                tasks += self._follows.values()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    # following ---------------------------------------------------------------------------

    async def _watch(self, started: AsyncIterator[MessageId]) -> None:
        async for message_id in started:
            if self.codec.ordering is Ordering.ONE_AT_A_TIME:
                self._queue.put_nowait((message_id, -1))
            elif (reply := await self.engine.find_reply(message_id)) is not None:
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
        self._follows[reply.id] = asyncio.create_task(self._stream(reply, after))

    async def _one_at_a_time(self) -> None:
        while True:
            message_id, after = await self._queue.get()
            if message_id in self._seen:
                continue
            self._seen.add(message_id)
            reply = await self.engine.find_reply(message_id)
            if reply is not None:
                self._progress.current = (reply.id, after)
                if await self._stream(reply, after):
                    self._progress.current = None

    async def _stream(self, reply: Message, after: int) -> bool:
        """Send the reply's frames after ``after``; False when the client went first."""
        own = False
        shared: Hashable | None = getattr(self.codec, "shared", None)

        def frames_of(batch: list[Event]) -> list[bytes]:
            return [frame for event in batch for frame in self.codec.encode(event, own=own)]

        def deliver(batch: Batch) -> Awaitable[None] | None:
            # Frames that depend on the event alone: made once for every socket here, and
            # for a live reply written by the task that appended the event.
            self._sent[reply.id] = batch[-1].seq
            return self._write(batch.derive(shared, frames_of))

        try:
            if shared is not None:
                await self.engine.follow(reply, after).relay(deliver)
                return True
            async for batch in self.engine.follow(reply, after):
                for event in batch:
                    if isinstance(event, MessageStart):
                        own = event.user_message.client_message_id in self._own
                    for frame in self.codec.encode(event, own=own):
                        await self.send(frame)
                    self._sent[reply.id] = event.seq
                    current = self._progress.current
                    if current is not None and current[0] == reply.id:
                        # Its end written, the reply needs no note, whenever the follow ends.
                        ended = is_terminal(event)
                        self._progress.current = None if ended else (reply.id, event.seq)
        except TokenwireError as exc:
            with contextlib.suppress(*GONE):
                await self.send(self.codec.error(exc.code, exc.message, ref=reply.id))
        except GONE:
            return False  # the client went mid-reply: ``run`` leaves a note of where
        return True

    # the client's frames -----------------------------------------------------------------

    async def _read(self) -> None:
        async for data in text_frames(self.ws):
            if data is None:
                await self.send(self.codec.error("unsupported_frame", "send JSON text frames"))
                continue
            try:
                command = self.codec.decode(data)
            except FrameError as exc:
                await self.send(self.codec.error(exc.code, exc.message))
                continue
            try:
                await self._act(command)
            except TokenwireError as exc:
                ref = getattr(command, "message_id", None)
                sent = getattr(command, "client_message_id", None)
                error = self.codec.error(exc.code, exc.message, ref=ref, client_message_id=sent)
                await self.send(error)

    async def _act(self, command: Command) -> None:
        if isinstance(command, Ping):
            await self.send(self.codec.pong())
        elif isinstance(command, Send):
            cmid = command.client_message_id or uuid7()
            self._own.add(cmid)
            options = TurnOptions(
                client_message_id=cmid,
                images=command.images,
                tool_call_id=command.tool_call_id,
                **turn_fields(command),
            )
            turn = await self.engine.start_turn(
                self.user.id, ById(self.conversation.id), command.content, options
            )
            if not turn.created:
                # A retried send starts no reply and is announced nowhere: send the first.
                self._replay(turn.assistant_message)
        elif isinstance(command, Cancel):
            reply = await self._reply(command.message_id)
            await self.engine.cancel(self.user.id, reply.id)
        elif isinstance(command, Regenerate):
            # Announced like any reply that starts here: the socket follows it from there.
            await self.engine.regenerate(self.user.id, (await self._reply(command.message_id)).id)
        elif isinstance(command, Continue):
            await self.engine.continue_reply(
                self.user.id, (await self._reply(command.message_id)).id
            )
        elif isinstance(command, Resume):
            self.follow(await self._reply(command.message_id), command.after)
        elif isinstance(command, StopRunning):
            for reply in await self.engine.in_flight(self.conversation.id):
                await self.engine.cancel(self.user.id, reply.id)

    def _replay(self, reply: Message) -> None:
        if self.codec.ordering is Ordering.ONE_AT_A_TIME:
            self._queue.put_nowait((reply.id, -1))
        else:
            self.follow(reply, -1)

    async def _reply(self, message_id: str) -> Message:
        return await self.engine.reply(
            self.user.id, message_id, conversation_id=self.conversation.id
        )


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


async def serve(socket: ConversationSocket) -> None:
    """Accept and run ``socket`` to its end, closing it cleanly."""
    await socket.ws.accept()

    async def session(receive: asgi.Receive, send: asgi.Send) -> None:
        # The socket's own ``receive`` and ``send`` are those of the route; once handed off,
        # the layers that gave them have returned and keep nothing suspended.
        await run_socket(
            socket.ws, socket.run, lambda exc: socket.codec.error(exc.code, exc.message)
        )

    if not handoff.hand_off(socket.ws.scope, session):
        await session(socket.ws.receive, socket.ws.send)
