"""The image chat SSE protocol of seed 003.

    data: {"type":"start","timestamp","model"}
    data: {"type":"content","content":<all text so far>,"delta":<new text>}
    data: {"type":"end","tokens","finish_reason","processing_time_ms","content"}
    data: {"type":"error","error"}

``content`` repeats the whole text in every event because the seed's iOS client replaces
its text with it (``streamingText = event.content``): that frame costs O(size of the reply)
by the seed's design. A subscriber that falls behind gets its deltas merged first, which
bounds how many such frames it is sent.

The request body is ``{"base64_image","prompt","subject","session_id","student_id"}``;
the non-streaming endpoint answers with ``ChatImageResult``.
"""

from __future__ import annotations

import msgspec

from tokenwire.errors import BadRequest, TokenwireError
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageError, MessageStart
from tokenwire.protocol.images import parse_image
from tokenwire.protocol.options import ByHistory, ByKey, TurnOptions, TurnRequest
from tokenwire.protocol.resources import Message

KIND = "chat_image"  # the kind of the conversations this dialect makes

__all__ = [
    "ChatImageEncoder",
    "ChatImageRequest",
    "ChatImageResult",
    "decode_result",
    "encode_result",
    "error_body",
    "error_event",
    "first_event_failed",
    "image_data_url",
    "parse_request",
    "refusal",
    "refusal_event",
    "result",
    "result_events",
]


class _Start(msgspec.Struct, tag="start", tag_field="type"):
    timestamp: str
    model: str


class _Content(msgspec.Struct, tag="content", tag_field="type"):
    content: str
    delta: str


class _End(msgspec.Struct, tag="end", tag_field="type"):
    tokens: int
    finish_reason: str
    processing_time_ms: int
    content: str


class _Error(msgspec.Struct, tag="error", tag_field="type"):
    error: str


_json = msgspec.json.Encoder()


def _sse(payload: msgspec.Struct) -> bytes:
    # msgspec escapes newlines inside strings, so one ``data:`` line always suffices.
    return b"data: " + _json.encode(payload) + b"\n\n"


def error_event(message: str) -> bytes:
    return _sse(_Error(message))


def error_body(message: str) -> bytes:
    """The JSON body of a non-streaming error response: the ``error`` event's object."""
    return _json.encode(_Error(message))


def refusal(error: TokenwireError) -> bytes:
    """A request refused: the ``error`` event's object as the body, its message shown."""
    return error_body(error.message)


def refusal_event(error: TokenwireError) -> bytes:
    """A request refused on the streaming endpoint: the ``error`` event."""
    return error_event(error.message)


class ChatImageEncoder:
    """Canonical events of one reply -> seed 003 SSE events; keeps the text so far."""

    def __init__(self) -> None:
        self._text = ""

    @property
    def content(self) -> str:
        return self._text

    def encode(self, event: Event) -> bytes:
        if isinstance(event, MessageStart):
            return _sse(_Start(event.created_at, event.model))
        if isinstance(event, MessageDelta):
            self._text += event.text
            return _sse(_Content(self._text, event.text))
        if isinstance(event, MessageEnd):
            end = _End(
                tokens=event.usage.completion_tokens,
                finish_reason=event.finish_reason,
                processing_time_ms=round(event.timings.total_ms),
                content=self._text,
            )
            return _sse(end)
        if isinstance(event, MessageError):
            return error_event(event.error.message)
        return b""


class ChatImageRequest(msgspec.Struct, frozen=True):
    """The request of seed 003 ("Request Format"); only ``prompt`` is required here, so
    that a text-only question works too."""

    prompt: str
    base64_image: str | None = None
    subject: str | None = None
    session_id: str | None = None
    student_id: str | None = None


class ChatImageResult(msgspec.Struct, frozen=True):
    """The answer of the non-streaming ``POST /api/v1/chat-image``: the fields of the
    ``end`` event, plus what the client needs to find the reply again."""

    content: str
    model: str
    tokens: int
    finish_reason: str
    processing_time_ms: int
    session_id: str
    message_id: str


def result(reply: Message, request: ChatImageRequest, model: str) -> ChatImageResult:
    """The answer of a finished ``reply`` to ``request``, whose session it names (the
    conversation the request started when it named none); ``model`` when the reply names
    none."""
    return ChatImageResult(
        content=reply.content,
        model=reply.model or model,
        tokens=reply.usage.completion_tokens if reply.usage else 0,
        finish_reason=reply.finish_reason or "stop",
        processing_time_ms=round(reply.timings.total_ms) if reply.timings else 0,
        session_id=request.session_id or reply.conversation_id,
        message_id=reply.id,
    )


_decoder = msgspec.json.Decoder(ChatImageRequest)


def parse_request(body: bytes) -> ChatImageRequest:
    """Parse and check the request body; ``BadRequest`` says what is wrong."""
    try:
        request = decode_json(body, _decoder)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}", code="invalid_request") from exc
    if not request.prompt.strip():
        raise BadRequest("prompt must not be empty", code="empty_content")
    if request.base64_image is not None:
        image_data_url(request.base64_image)  # validates
    return request


def turn(request: ChatImageRequest) -> TurnRequest:
    """The turn a request asks for: in the session it names, else in a conversation of its
    own; ``subject`` and ``student_id`` kept as context for the model."""
    metadata = {"subject": request.subject, "student_id": request.student_id}
    image = request.base64_image
    options = TurnOptions(
        title=request.subject or "Image chat",
        metadata={k: v for k, v in metadata.items() if v},
        images=(image_data_url(image),) if image else (),
    )
    ref = ByKey(KIND, request.session_id) if request.session_id else ByHistory(KIND, ())
    return TurnRequest(ref, request.prompt, options)


def image_data_url(base64_image: str) -> str:
    """``base64_image`` (bare base64 or a data URL) as a ``data:`` URL with its sniffed media
    type; ``Unprocessable`` (422) when it is not base64 or not a known image format, as for
    every image (``protocol/images.py``). Its size is the engine's to check."""
    return parse_image(base64_image, max_bytes=None, where="base64_image").data_url


def encode_result(result: ChatImageResult) -> bytes:
    return _json.encode(result)


_result_decoder = msgspec.json.Decoder(ChatImageResult)


def decode_result(body: bytes) -> ChatImageResult:
    """Parse a ``POST /api/v1/chat-image`` answer (the gateway's fallback reads it)."""
    return decode_json(body, _result_decoder)


def result_events(result: ChatImageResult, timestamp: str) -> bytes:
    """A whole reply as the stream would have carried it: ``start``, one ``content`` with
    all the text, ``end``. What the gateway sends when it had to fall back."""
    events = [_sse(_Start(timestamp, result.model))]
    if result.content:
        events.append(_sse(_Content(result.content, result.content)))
    end = _End(result.tokens, result.finish_reason, result.processing_time_ms, result.content)
    events.append(_sse(end))
    return b"".join(events)


def first_event_failed(data: str) -> str | None:
    """The error message when ``data`` (one event's data) is an ``error`` event, else None."""
    try:
        event = decode_json(data)
    except msgspec.DecodeError:
        return "the stream sent an event that is not JSON"
    if isinstance(event, dict) and event.get("type") == "error":
        return str(event.get("error", "error"))
    return None
