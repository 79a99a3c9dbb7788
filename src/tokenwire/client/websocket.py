"""The WebSocket transport: one socket per conversation, shared by all its replies.

The server pushes every reply that starts in the conversation once the socket is open, and
follows an earlier one on ``stream.resume`` (``api/ws.py``). A reader task routes each
event to the subscription of its message; a reply this client sent is recognised by the
``client_message_id`` its ``message.start`` carries. When the socket fails, every
subscription receives the error, and each reply's driver resumes on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from tokenwire.client.errors import (
    AuthenticationError,
    ClientError,
    ConnectionFailed,
    from_frame,
    translated,
)
from tokenwire.client.http import Credentials
from tokenwire.protocol.events import Event, MessageStart, decode, is_terminal


class _Kind(msgspec.Struct):
    type: str


class _ErrorFrame(msgspec.Struct):
    error: dict[str, str]
    message_id: str | None = None


_encode = msgspec.json.Encoder().encode


class Subscription:
    """What one reply's driver receives from a link: its events, or the error ending them."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event | ClientError] = asyncio.Queue()

    def put(self, item: Event | ClientError) -> None:
        self._queue.put_nowait(item)

    async def get(self) -> Event:
        item = await self._queue.get()
        if isinstance(item, ClientError):
            raise item
        return item


class ConversationLink:
    """The socket of one conversation, opened on demand and again after it fails."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        open_timeout: float,
        ping_interval: float | None,
        answer_timeout: float,
        on_drop: Callable[[ConnectionFailed], None],
    ) -> None:
        self.url = url
        self._credentials = credentials
        self._open_timeout = open_timeout
        self._ping_interval = ping_interval
        self._answer_timeout = answer_timeout
        self._on_drop = on_drop
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._open_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._subs: dict[str, Subscription] = {}
        self._pending: dict[str, Subscription] = {}
        self._answer: asyncio.Future[str] | None = None

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    async def open(self) -> ClientConnection:
        """The open socket, connecting first if there is none."""
        async with self._open_lock:
            if self._ws is not None:
                return self._ws
            token = self._credentials.token
            try:
                ws = await self._connect(token)
            except AuthenticationError:
                if not await self._credentials.renew(token):
                    raise
                ws = await self._connect(self._credentials.token)
            self._ws = ws
            self._reader = asyncio.create_task(self._read(ws), name=f"ws reader {self.url}")
            return ws

    async def _connect(self, token: str) -> ClientConnection:
        with translated():
            return await connect(
                self.url,
                additional_headers=self._credentials.headers(token),
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_interval,
                max_size=None,  # a replayed reply arrives as one frame, however long
            )

    async def send_message(self, content: str, client_message_id: str) -> Subscription:
        """Send ``message.send`` and wait until the server takes it (its ``message.start``)
        or refuses it (an ``error`` frame). One send at a time: an error frame for a send
        names no message, so only order tells which send it answers."""
        async with self._send_lock:
            ws = await self.open()
            sub = Subscription()
            self._pending[client_message_id] = sub
            answer = self._answer = asyncio.get_running_loop().create_future()
            frame = {
                "type": "message.send",
                "content": content,
                "client_message_id": client_message_id,
            }
            try:
                with translated():
                    await ws.send(_encode(frame).decode())
                    await asyncio.wait_for(answer, self._answer_timeout)
            except BaseException:
                self._pending.pop(client_message_id, None)
                raise
            finally:
                self._answer = None
            return sub

    async def follow(self, message_id: str, after: int) -> Subscription:
        """Ask for ``message_id``'s events after ``after`` (``stream.resume``)."""
        ws = await self.open()
        sub = self._subs[message_id] = Subscription()
        frame = {"type": "stream.resume", "message_id": message_id, "after": after}
        with translated():
            await ws.send(_encode(frame).decode())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        for mid, known in list(self._subs.items()):
            if known is sub:
                del self._subs[mid]

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            with translated():
                async for raw in ws:
                    self._dispatch(raw.encode() if isinstance(raw, str) else raw)
            raise ConnectionFailed("the server closed the socket")
        except ClientError as exc:
            failure = exc if isinstance(exc, ConnectionFailed) else ConnectionFailed(str(exc))
            self._fail(ws, failure)

    def _fail(self, ws: ClientConnection, error: ConnectionFailed) -> None:
        if self._ws is ws:
            self._ws = None
        subs = [*self._subs.values(), *self._pending.values()]
        self._subs.clear()
        self._pending.clear()
        for sub in subs:
            sub.put(error)
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self._on_drop(error)

    def _dispatch(self, raw: bytes) -> None:
        try:
            kind = msgspec.json.decode(raw, type=_Kind).type
            if kind == "error":
                self._dispatch_error(msgspec.json.decode(raw, type=_ErrorFrame))
                return
            event = decode(raw)
        except msgspec.DecodeError:
            return  # pong, or a frame type newer than this client: nothing to act on
        if isinstance(event, MessageStart):
            cmid = event.user_message.client_message_id
            if cmid is not None and (sub := self._pending.pop(cmid, None)) is not None:
                self._subs[event.message_id] = sub
                if self._answer is not None and not self._answer.done():
                    self._answer.set_result(event.message_id)
        sub = self._subs.get(event.message_id)
        if sub is None:
            return  # a reply started elsewhere in the conversation, which nobody here follows
        sub.put(event)
        if is_terminal(event):
            del self._subs[event.message_id]

    def _dispatch_error(self, frame: _ErrorFrame) -> None:
        error = from_frame(frame.error)
        if frame.message_id is not None:
            if (sub := self._subs.pop(frame.message_id, None)) is not None:
                sub.put(error)
        elif self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
