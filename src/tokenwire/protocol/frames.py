"""Canonical WebSocket frames: what a client may send, and the frames only WebSocket has.

Client frames (JSON text):
    {"type": "message.send", "content": str, "client_message_id"?: str, "images"?: [str],
     "tool_call_id"?: str, and any option of ``option_fields.OptionFields``}
    {"type": "message.cancel", "message_id": str}
    {"type": "message.regenerate", "message_id": str}   (a new reply beside that one)
    {"type": "message.continue", "message_id": str}     (more of a reply that was cut)
    {"type": "stream.resume", "message_id": str, "after": int}
    {"type": "ping"}

Server frames are the canonical events (see ``events``) plus ``pong`` and ``error``.
A malformed frame is answered with an ``error`` frame; the socket stays open.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

from tokenwire.protocol.decoding import JSONLimitError, decode_json
from tokenwire.protocol.option_fields import OptionFields


class FrameError(Exception):
    """A client frame that cannot be used; ``code`` goes into the error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Send(
    OptionFields,
    frozen=True,
    kw_only=True,
    tag="message.send",
    tag_field="type",
    forbid_unknown_fields=True,
):
    """A user message, with the turn's options in OpenAI's shapes (``OptionFields``: length,
    sampling, tools, response format); ``tool_call_id`` makes it the result of that call."""

    content: str
    client_message_id: str | None = None
    images: tuple[str, ...] = ()  # base64 or data URLs, as in the HTTP send
    tool_call_id: str | None = None


class Cancel(msgspec.Struct, frozen=True, tag="message.cancel", tag_field="type"):
    message_id: str


class Regenerate(msgspec.Struct, frozen=True, tag="message.regenerate", tag_field="type"):
    """A new reply to the user message that reply ``message_id`` answers; it streams on
    the socket as any reply in the conversation does."""

    message_id: str


class Continue(msgspec.Struct, frozen=True, tag="message.continue", tag_field="type"):
    """Have the model go on with reply ``message_id`` (cut at the length limit, cancelled
    or interrupted); it streams again on the socket from its ``message.start``."""

    message_id: str


class Resume(msgspec.Struct, frozen=True, tag="stream.resume", tag_field="type"):
    message_id: str
    after: int = -1


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    pass


ClientFrame = Send | Cancel | Regenerate | Continue | Resume | Ping

T = TypeVar("T")

_KNOWN = {
    "message.send",
    "message.cancel",
    "message.regenerate",
    "message.continue",
    "stream.resume",
    "ping",
}
_decoder: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)
_encoder = msgspec.json.Encoder()


def decode_frame(data: str | bytes, decoder: msgspec.json.Decoder[T], known: Collection[str]) -> T:
    """Parse one frame with ``decoder`` (a tagged union over ``type``), or raise
    ``FrameError``: ``invalid_json``, ``frame_too_large``, ``frame_too_deep``,
    ``invalid_frame`` or ``unknown_type``. Every dialect's
    client frames go through here, so a bad frame is described the same way on every wire."""
    try:
        raw: Any = decode_json(data)
    except JSONLimitError as exc:
        raise FrameError(f"frame_{exc.code}", f"frame refused: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise FrameError("invalid_json", f"frame is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "a frame must be a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid_frame", "a frame needs a string 'type'")
    if kind not in known:
        expected = ", ".join(sorted(known))
        raise FrameError("unknown_type", f"unknown frame type {kind!r}; expected one of {expected}")
    try:
        return decode_json(data, decoder)
    except msgspec.DecodeError as exc:
        raise FrameError("invalid_frame", f"{kind}: {exc}") from exc


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse one canonical client frame or raise ``FrameError`` saying what is wrong with it."""
    return decode_frame(data, _decoder, _KNOWN)


def pong() -> bytes:
    return b'{"type":"pong"}'


def error_frame(
    code: str, message: str, *, ref: str | None = None, client_message_id: str | None = None
) -> bytes:
    """``{"type":"error","error":{"code","message"}}``; ``ref`` names the message it concerns,
    ``client_message_id`` the send that failed."""
    body: dict[str, Any] = {"type": "error", "error": {"code": code, "message": message}}
    if ref is not None:
        body["message_id"] = ref
    if client_message_id is not None:
        body["client_message_id"] = client_message_id
    return _encoder.encode(body)
