"""The ``message_stream`` WebSocket protocol of seed 004.

A reply is three phases of ``message_stream`` frames sharing one ``id``::

    {"type":"message_stream","id","sender":"ai","timestamp","agentId","agentName",
     "agentType","session_id","stream_start":true,"stream_chunk":false,"stream_end":false,
     "metadata":{"reply_to","streaming":true}}
    ... the same with "chunk" (only the new text), "stream_chunk":true ...
    ... the same with "stream_end":true and "metadata.streaming":false

Complete messages travel as ``{"type":"message", ...}``; the server echoes each user message
that way (the seed's client drops ``sender == "user"`` echoes) and never sends a complete
message for streamed content (seed 004, "Duplicate Prevention").

Errors stay inside the stream (seed 004, "Errors sent as streaming chunks, not separate
messages"): a failed reply gets one more chunk with the error text, then its
``stream_end``, whose metadata carries ``error`` with the error code.

Client frames: ``{"type":"message","content","id"?}`` sends (``id`` makes a retry
idempotent), ``{"type":"stop"}`` stops the reply being streamed, ``{"type":"ping"}``.
The seed shows no client frames; these are tokenwire's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from tokenwire.ids import uuid7
from tokenwire.protocol import frames
from tokenwire.protocol.codec import Command, Ordering, StopRunning
from tokenwire.protocol.dialects.timestamps import Clock, utc_now
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageError, MessageStart
from tokenwire.protocol.frames import decode_frame
from tokenwire.protocol.options import ByKey
from tokenwire.protocol.resources import Message

__all__ = [
    "Agent",
    "ClientFrame",
    "HistoryMessage",
    "MessageStreamCodec",
    "MessageStreamEncoder",
    "Ping",
    "SendMessage",
    "Stop",
    "agent",
    "decode_client_frame",
    "history",
    "session",
]

KIND = "message_stream"  # the kind of the conversations this dialect makes
OWN_CHAT = "chat"  # the key of the session plain ``/ws/chat`` opens

ERROR_PREFIX = "Execution error: "  # the wording of seed 004's agent for a failed task


class Agent(msgspec.Struct, frozen=True):
    """Who speaks for the ``ai`` sender: ``agentId``, ``agentName``, ``agentType``."""

    id: str
    name: str
    type: str


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    reply_to: str | None = None
    streaming: bool
    error: str | None = None  # the error code, on the ``stream_end`` of a failed reply


# Field order is the order of seed 004's "Message Structure".
class _StreamFrame(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    tag="message_stream",
    tag_field="type",
    omit_defaults=True,
):
    id: str
    chunk: str | None = None  # only in the chunk phase
    sender: str
    timestamp: str
    agentId: str
    agentName: str
    agentType: str
    session_id: str
    stream_start: bool
    stream_chunk: bool
    stream_end: bool
    metadata: Metadata


class _CompleteFrame(
    msgspec.Struct, frozen=True, tag="message", tag_field="type", omit_defaults=True
):
    id: str
    content: str
    sender: str
    timestamp: str
    session_id: str
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    agentId: str | None = None
    agentName: str | None = None
    agentType: str | None = None


_encoder = msgspec.json.Encoder()


class MessageStreamEncoder:
    """Canonical events of one session's replies -> seed 004 frames."""

    def __init__(self, session_id: str, agent: Agent, *, clock: Clock = utc_now) -> None:
        self.session_id = session_id
        self.agent = agent
        self._clock = clock
        self._reply_to: dict[str, str] = {}
        self._has_text: set[str] = set()

    def _frame(
        self,
        message_id: str,
        phase: str,
        *,
        chunk: str | None = None,
        error: str | None = None,
    ) -> bytes:
        frame = _StreamFrame(
            id=message_id,
            sender="ai",
            timestamp=self._clock(),
            agentId=self.agent.id,
            agentName=self.agent.name,
            agentType=self.agent.type,
            session_id=self.session_id,
            stream_start=phase == "start",
            stream_chunk=phase == "chunk",
            stream_end=phase == "end",
            metadata=Metadata(
                streaming=phase != "end", reply_to=self._reply_to.get(message_id), error=error
            ),
            chunk=chunk,
        )
        return _encoder.encode(frame)

    def complete_message(
        self,
        message_id: str,
        content: str,
        *,
        sender: str,
        timestamp: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> bytes:
        """A ``{"type":"message"}`` frame: a user echo, or a notice from ``system``."""
        is_ai = sender == "ai"
        frame = _CompleteFrame(
            id=message_id,
            content=content,
            sender=sender,
            timestamp=timestamp or self._clock(),
            session_id=self.session_id,
            metadata=metadata or {},
            agentId=self.agent.id if is_ai else None,
            agentName=self.agent.name if is_ai else None,
            agentType=self.agent.type if is_ai else None,
        )
        return _encoder.encode(frame)

    def encode(self, event: Event) -> list[bytes]:
        """The frames for one event: the user echo and ``stream_start`` for the start, a
        chunk per delta, ``stream_end`` for the end (none for ``message.queued``)."""
        if isinstance(event, MessageStart):
            mid = event.message_id
            self._reply_to[mid] = event.reply_to
            user = event.user_message
            echo = self.complete_message(
                user.id, user.content, sender="user", timestamp=user.created_at
            )
            return [echo, self._frame(mid, "start")]
        if isinstance(event, MessageDelta):
            self._has_text.add(event.message_id)
            return [self._frame(event.message_id, "chunk", chunk=event.text)]
        if isinstance(event, MessageEnd):
            return [self._end(event.message_id)]
        if isinstance(event, MessageError):
            mid = event.message_id
            gap = "\n\n" if mid in self._has_text else ""
            text = f"{gap}{ERROR_PREFIX}{event.error.message}"
            chunk = self._frame(mid, "chunk", chunk=text)
            return [chunk, self._end(mid, error=event.error.code)]
        return []

    def _end(self, message_id: str, *, error: str | None = None) -> bytes:
        frame = self._frame(message_id, "end", error=error)
        self._reply_to.pop(message_id, None)
        self._has_text.discard(message_id)
        return frame


class HistoryMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """A message of ``GET /api/chat/messages`` as seed 004's ``getMessageHistory`` maps it."""

    id: str
    content: str
    sender: str
    timestamp: str
    agentId: str | None = None
    agentName: str | None = None
    agentType: str | None = None


def session(session_id: str | None) -> ByKey:
    """The session a socket names (made on first use; a conversation id works too), or
    without a name the user's own chat: one per user, the same on every connect, since
    seed 004's client reconnects to plain ``/ws/chat`` with no session of its own."""
    return ByKey(KIND, session_id or OWN_CHAT)


def agent(persona: str | None) -> Agent:
    """The ``ai`` sender of a session: its persona, else the default assistant."""
    name = persona or "assistant"
    return Agent(id=name, name=name.replace("_", " ").title(), type="chat")


def history(messages: Sequence[Message], ai: Agent) -> list[HistoryMessage]:
    """``GET /api/chat/messages``: ``sender`` ``user`` or ``ai``, the agent on the replies."""
    return [
        HistoryMessage(m.id, m.content, "user", m.created_at)
        if m.role == "user"
        else HistoryMessage(m.id, m.content, "ai", m.created_at, ai.id, ai.name, ai.type)
        for m in messages
    ]


class SendMessage(msgspec.Struct, frozen=True, tag="message", tag_field="type"):
    content: str
    id: str | None = None


class Stop(msgspec.Struct, frozen=True, tag="stop", tag_field="type"):
    pass


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    pass


ClientFrame = SendMessage | Stop | Ping

_KNOWN = frozenset({"message", "stop", "ping"})
_decoder: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)


def pong() -> bytes:
    return b'{"type":"pong"}'


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse one client frame, or raise ``FrameError`` saying what is wrong with it."""
    return decode_frame(data, _decoder, _KNOWN)


class MessageStreamCodec:
    """Seed 004's socket: whole replies one at a time (the app keeps one
    ``streamingMessage``); ``stop`` stops what is streaming. A frame that cannot be acted on
    is answered with a complete ``message`` from sender ``system`` whose ``metadata.error``
    is the error code: the app shows every non-user message and has no other error frame."""

    ordering = Ordering.ONE_AT_A_TIME

    def __init__(
        self,
        session_id: str,
        agent: Agent,
        *,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = uuid7,
    ) -> None:
        self._encoder = MessageStreamEncoder(session_id, agent, clock=clock)
        self._new_id = new_id

    def opened(self) -> list[bytes]:
        return []

    def encode(self, event: Event, *, own: bool) -> list[bytes]:
        return self._encoder.encode(event)

    def decode(self, data: str) -> Command:
        frame = decode_client_frame(data)
        if isinstance(frame, SendMessage):
            return frames.Send(content=frame.content, client_message_id=frame.id)
        return frames.Ping() if isinstance(frame, Ping) else StopRunning()

    def pong(self) -> bytes:
        return pong()

    def error(
        self,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        client_message_id: str | None = None,
    ) -> bytes:
        return self._encoder.complete_message(
            self._new_id(), f"Error: {message}", sender="system", metadata={"error": code}
        )
