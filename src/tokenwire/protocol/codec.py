"""The two shapes every dialect takes: a ``StreamEncoder`` (an SSE response) and a
``SocketCodec`` (a WebSocket), with the canonical dialect's own of each.

A dialect is pure: canonical events in, its bytes out; its client frames in, canonical
commands out. One ``ConversationSocket`` (``api/socket.py``) and one ``EventStream``
(``api/streaming.py``) move those bytes for every dialect.
"""

from __future__ import annotations

import enum
from typing import Protocol

import msgspec

from tokenwire.protocol import frames, sse
from tokenwire.protocol.events import Event, encode, event_type
from tokenwire.protocol.frames import Cancel, Continue, Ping, Regenerate, Resume, Send


class StopRunning(msgspec.Struct, frozen=True):
    """Stop whatever reply is streaming in the socket's conversation: the seeds' "stop",
    which names no message."""


Command = Send | Cancel | Regenerate | Continue | Resume | Ping | StopRunning


class Ordering(enum.Enum):
    """How a socket sends the replies of its conversation."""

    INTERLEAVED = "interleaved"
    """Each reply as it comes, several at once; a client tells them apart by message id,
    and a reply running when the socket opened is followed on ``stream.resume``."""

    ONE_AT_A_TIME = "one_at_a_time"
    """Whole replies in the order they started, never interleaved, a running one from its
    start: for clients that keep a single "message being streamed" (seeds 000 and 004)."""


class StreamEncoder(Protocol):
    """Canonical events of one reply -> the bytes of an SSE response body.

    An encoder whose bytes for an event depend on the event alone (no state carried from
    earlier events) says so with a ``shared`` key: followers at one point of a reply then
    share one encoding of each batch (``log/batch.py``)."""

    def encode(self, event: Event) -> bytes: ...


class SocketCodec(Protocol):
    """One WebSocket's dialect: what it sends on open, its frames for each event of a reply,
    what a client frame means, and its errors. A ``shared`` key, as for ``StreamEncoder``,
    when its frames depend on the event alone."""

    ordering: Ordering

    def opened(self) -> list[bytes]:
        """The frames sent when the socket opens."""
        ...

    def encode(self, event: Event, *, own: bool) -> list[bytes]:
        """The frames for one event of a reply; ``own``: the reply answers a message sent on
        this socket."""
        ...

    def decode(self, data: str) -> Command:
        """The command a text frame means, or ``FrameError`` saying what is wrong with it."""
        ...

    def pong(self) -> bytes: ...

    def error(
        self,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        client_message_id: str | None = None,
    ) -> bytes:
        """The frame for a client frame that could not be acted on; ``ref`` names the reply
        it concerns, ``client_message_id`` the send that failed."""
        ...


class CanonicalSSE:
    """``id: <seq>``, ``event: <type>``, ``data: <canonical JSON>``."""

    shared = ("sse", "canonical")

    def encode(self, event: Event) -> bytes:
        return sse.encode(encode(event), event=event_type(event), id=event.seq)


class CanonicalCodec:
    """The canonical WebSocket (``protocol/frames.py``): events as their canonical JSON."""

    ordering = Ordering.INTERLEAVED
    shared = ("ws", "canonical")

    def opened(self) -> list[bytes]:
        return []

    def encode(self, event: Event, *, own: bool) -> list[bytes]:
        return [encode(event)]

    def decode(self, data: str) -> Command:
        return frames.decode_client_frame(data)

    def pong(self) -> bytes:
        return frames.pong()

    def error(
        self,
        code: str,
        message: str,
        *,
        ref: str | None = None,
        client_message_id: str | None = None,
    ) -> bytes:
        return frames.error_frame(code, message, ref=ref, client_message_id=client_message_id)
