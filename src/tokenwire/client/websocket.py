"""The WebSocket transport: one socket per conversation, shared by all its replies.

The server pushes every reply that starts in the conversation once the socket is open, and
follows an earlier one on ``stream.resume`` (``api/ws.py``). A reader task files each event
in the ``Tracks`` of this socket, which hand it to the followers of its message; a reply
this client sent is recognised by the ``client_message_id`` its ``message.start`` carries.
When the socket fails, every follower receives the error, and each reply's driver resumes
on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

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
from tokenwire.client.tracks import Detour, Subscription, Tracks
from tokenwire.protocol.events import MessageStart, decode


class _Kind(msgspec.Struct):
    type: str


class _ErrorFrame(msgspec.Struct):
    error: dict[str, str]
    message_id: str | None = None


_encode = msgspec.json.Encoder().encode


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
        self._tracks = Tracks()
        self._pending: dict[str, Subscription] = {}
        self._answer: asyncio.Future[str] | None = None

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    @property
    def idle(self) -> bool:
        """Nobody waits on this socket: no reply followed, no send unanswered."""
        return not self._tracks.followed and not self._pending and not self._send_lock.locked()

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

    async def send_message(
        self, content: str, client_message_id: str, options: Mapping[str, Any] | None = None
    ) -> Subscription:
        """Send ``message.send`` and wait until the server takes it (its ``message.start``)
        or refuses it (an ``error`` frame). One send at a time: an error frame for a send
        names no message, so only order tells which send it answers."""
        async with self._send_lock:
            ws = await self.open()
            known = self._tracks.by_client_id(client_message_id)
            if known is not None:
                # Sent before on this socket: the server would only point at frames that
                # are here already, or on their way.
                return known.attach(Subscription(-1))
            sub = self._pending[client_message_id] = Subscription(-1)
            answer = self._answer = asyncio.get_running_loop().create_future()
            frame = {
                **(options or {}),
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
        """The events of ``message_id`` after ``after``: from what this socket has, else
        asked for with ``stream.resume``."""
        ws = await self.open()
        track = self._tracks.get(message_id)
        if track is not None:
            if not track.covers(after):
                # The server would not send that part again here.
                raise Detour(f"this socket has {message_id} from another point than {after}")
            return track.attach(Subscription(after))
        sub = self._tracks.open(message_id, after).attach(Subscription(after))
        frame = {"type": "stream.resume", "message_id": message_id, "after": after}
        with translated():
            await ws.send(_encode(frame).decode())
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._tracks.unsubscribe(sub)

    def reopened(self, message_id: str) -> None:
        """``message_id`` was continued: its old end, if this socket has it, is no longer
        its end (``Tracks.reopened``)."""
        self._tracks.reopened(message_id)

    async def reset(self) -> None:
        """Close the socket as if it had failed: its followers resume, on a new one, where
        the server follows each from where it asks."""
        ws, reader = self._ws, self._reader
        if ws is None or reader is None:
            return
        with contextlib.suppress(Exception):
            await ws.close()
        await asyncio.gather(reader, return_exceptions=True)

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
        self._tracks.clear(error)
        pending, self._pending = list(self._pending.values()), {}
        for sub in pending:
            sub.fail(error)
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
        track = self._tracks.add(event)
        if isinstance(event, MessageStart):
            cmid = event.user_message.client_message_id
            if cmid is not None and (sub := self._pending.pop(cmid, None)) is not None:
                track.attach(sub)
                if self._answer is not None and not self._answer.done():
                    self._answer.set_result(event.message_id)

    def _dispatch_error(self, frame: _ErrorFrame) -> None:
        error = from_frame(frame.error)
        if frame.message_id is not None:
            self._tracks.fail(frame.message_id, error)
        elif self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
