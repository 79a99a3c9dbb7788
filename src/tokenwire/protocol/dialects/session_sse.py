"""The session SSE protocol of seed 002: data-only events, one JSON object each.

    data: {"type": "start", "messageId": "<assistant message id>"}
    data: {"type": "token", "content": "Hello there"}          one per delta
    data: {"type": "end", "messageId": "<assistant message id>"}
    data: {"type": "error", "error": "Error message"}

The bytes are those of the seed's own backend, which wrote its events with Python's
``json.dumps`` (a space after ``:`` and ``,``): the frames are spliced from constant
pieces around msgspec-escaped strings, so a token costs O(size of the token) and the output
matches the seed byte for byte. A cancelled reply ends with ``end`` like a finished one.

The client's request body is ``{"content", "role"}`` (seed 002, "Usage Example").
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tokenwire.errors import BadRequest, TokenwireError
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageError, MessageStart
from tokenwire.protocol.options import ByKey, TurnOptions, TurnRequest
from tokenwire.protocol.resources import Message

__all__ = [
    "HistoryItem",
    "SessionMessage",
    "SessionSSEEncoder",
    "error_event",
    "error_json",
    "history",
    "parse_message",
    "refusal",
    "refusal_event",
    "turn",
]

KIND = "session"  # the kind of the conversations this dialect makes

_json = msgspec.json.Encoder()


def _event(*pieces: bytes) -> bytes:
    # One SSE event of a single ``data:`` line: every string in it went through the JSON
    # encoder, which escapes newlines, so no payload can break the framing.
    return b"data: " + b"".join(pieces) + b"\n\n"


def start_event(message_id: str) -> bytes:
    return _event(b'{"type": "start", "messageId": ', _json.encode(message_id), b"}")


def token_event(content: str) -> bytes:
    return _event(b'{"type": "token", "content": ', _json.encode(content), b"}")


def end_event(message_id: str) -> bytes:
    return _event(b'{"type": "end", "messageId": ', _json.encode(message_id), b"}")


def error_event(message: str) -> bytes:
    return _event(b'{"type": "error", "error": ', _json.encode(message), b"}")


class SessionSSEEncoder:
    """Canonical events -> seed 002 SSE events. Stateless; a class for symmetry with the
    other dialects and so routes can hold one per response."""

    def encode(self, event: Event) -> bytes:
        if isinstance(event, MessageStart):
            return start_event(event.message_id)
        if isinstance(event, MessageDelta):
            return token_event(event.text)
        if isinstance(event, MessageEnd):
            return end_event(event.message_id)
        if isinstance(event, MessageError):
            return error_event(event.error.message)
        return b""


def error_json(message: str) -> bytes:
    """The error of the history route: the ``error`` event's payload as a JSON body."""
    return _json.encode({"type": "error", "error": message})


def refusal(error: TokenwireError) -> bytes:
    """A request refused, off the stream: ``error_json`` of its message."""
    return error_json(error.message)


def refusal_event(error: TokenwireError) -> bytes:
    """A request refused on the stream endpoint: the ``error`` event the page can show."""
    return error_event(error.message)


class SessionMessage(msgspec.Struct, frozen=True):
    """The body of ``POST /sessions/{sessionId}/messages/stream``."""

    content: str
    role: str = "user"


_decoder = msgspec.json.Decoder(SessionMessage)


class HistoryItem(msgspec.Struct, frozen=True):
    """A message of ``GET /sessions/{sessionId}/messages`` (camelCase, as ``messageId``).

    ``timestamp`` is what the seed's page renders (``new Date(message.timestamp)``);
    ``createdAt`` is the same instant, kept for clients of the earlier shape."""

    id: str
    sessionId: str
    role: str
    content: str
    status: str
    createdAt: str
    timestamp: str


def history(session_id: str, messages: Sequence[Message]) -> list[HistoryItem]:
    """``GET /sessions/{sessionId}/messages``: the session's messages as the page lists them."""
    return [
        HistoryItem(m.id, session_id, m.role, m.content, m.status.value, m.created_at, m.created_at)
        for m in messages
    ]


def turn(session_id: str, message: SessionMessage) -> TurnRequest:
    """A message sent to the session named ``session_id`` (made on first use)."""
    options = TurnOptions(title=f"Session {session_id}")
    return TurnRequest(ByKey(KIND, session_id), message.content, options)


def parse_message(body: bytes) -> SessionMessage:
    """Parse and check the request body; ``BadRequest`` says what is wrong."""
    try:
        message = decode_json(body, _decoder)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f"request body is not a valid message: {exc}", code="invalid_request"
        ) from exc
    if message.role != "user":
        raise BadRequest(f"role must be 'user', not {message.role!r}", code="invalid_role")
    return message
