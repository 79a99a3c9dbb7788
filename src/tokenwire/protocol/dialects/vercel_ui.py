"""The Vercel AI SDK UI message stream, protocol v1 (the ``useChat`` default since AI SDK 5).

Response: SSE with header ``x-vercel-ai-ui-message-stream: v1``, one JSON chunk a line::

    data: {"type":"start","messageId":"<assistant message id>"}
    data: {"type":"text-start","id":"<text part id>"}
    data: {"type":"text-delta","id":"<text part id>","delta":"Hel"}
    data: {"type":"text-end","id":"<text part id>"}
    data: {"type":"finish","messageMetadata":{"finishReason":"stop"}}
    data: [DONE]

A failed reply sends ``{"type":"error","errorText"}`` instead of ``finish``; a cancelled one
``{"type":"abort"}``. A tool call the reply makes streams as the SDK's tool input parts:
``tool-input-start`` (``toolCallId``, ``toolName``), a ``tool-input-delta`` per piece of its
arguments, and ``tool-input-available`` with the parsed ``input`` before ``finish``, whose
``messageMetadata.finishReason`` is the SDK's name for the reply's (``stop``, ``length``,
``tool-calls``). The SDK
validates every chunk against a strict schema (no unknown keys), so the chunks carry only
the keys the protocol defines.

Request: the body the SDK's default chat transport posts: ``{"id": <chat id>, "messages":
[UIMessage, ...], "trigger": "submit-message" | "regenerate-message", "messageId"?}``, a
``UIMessage`` being ``{"id", "role", "parts": [{"type": "text", "text"}, ...]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from tokenwire.errors import BadRequest, TokenwireError
from tokenwire.protocol import sse
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.protocol.events import (
    Event,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageStart,
    MessageToolCall,
)
from tokenwire.protocol.options import ByKey, TurnOptions, TurnRequest

__all__ = [
    "HEADERS",
    "ChatRequest",
    "UIMessageStreamEncoder",
    "error_chunk",
    "parse_request",
    "refusal",
]

# The response headers of the SDK's own ``createUIMessageStreamResponse``.
HEADERS = {**sse.HEADERS, "x-vercel-ai-ui-message-stream": "v1"}

DONE = b"data: [DONE]\n\n"
KIND = "vercel"  # the kind of the conversations this dialect makes


class _Start(msgspec.Struct, tag="start", tag_field="type"):
    messageId: str


class _TextStart(msgspec.Struct, tag="text-start", tag_field="type"):
    id: str


class _TextDelta(msgspec.Struct, tag="text-delta", tag_field="type"):
    id: str
    delta: str


class _TextEnd(msgspec.Struct, tag="text-end", tag_field="type"):
    id: str


class _ToolInputStart(msgspec.Struct, tag="tool-input-start", tag_field="type"):
    toolCallId: str
    toolName: str


class _ToolInputDelta(msgspec.Struct, tag="tool-input-delta", tag_field="type"):
    toolCallId: str
    inputTextDelta: str


class _ToolInputAvailable(msgspec.Struct, tag="tool-input-available", tag_field="type"):
    toolCallId: str
    toolName: str
    input: Any


class _FinishMetadata(msgspec.Struct):
    finishReason: str


class _Finish(msgspec.Struct, tag="finish", tag_field="type"):
    # In messageMetadata, which every SDK version's finish chunk takes: SDK 5's strict
    # schema has no finishReason key of its own.
    messageMetadata: _FinishMetadata


class _Abort(msgspec.Struct, tag="abort", tag_field="type"):
    pass


class _Error(msgspec.Struct, tag="error", tag_field="type"):
    errorText: str


_json = msgspec.json.Encoder()

# The SDK's FinishReason names for the canonical ones.
_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool-calls", "cancelled": "other"}


def _sse(chunk: msgspec.Struct) -> bytes:
    return b"data: " + _json.encode(chunk) + b"\n\n"


def error_chunk(message: str) -> bytes:
    """``{"type":"error","errorText"}`` as JSON: also the body of a rejected request."""
    return _json.encode(_Error(message))


def refusal(error: TokenwireError) -> bytes:
    """A request refused: the ``error`` chunk as the body, which the SDK shows as the error
    message."""
    return error_chunk(error.message)


class UIMessageStreamEncoder:
    """Canonical events of one reply -> UI message stream chunks.

    The text part opens with the first delta and closes before the message ends, so a reply
    that fails before any text has no empty text part.
    """

    def __init__(self) -> None:
        self._text_id: str | None = None
        self._open = False
        self._calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def encode(self, event: Event) -> bytes:
        if isinstance(event, MessageStart):
            self._text_id = f"text-{event.message_id}"
            return _sse(_Start(event.message_id))
        if isinstance(event, MessageDelta):
            text_id = self._text_id or f"text-{event.message_id}"
            out = b""
            if not self._open:
                self._open = True
                out = _sse(_TextStart(text_id))
            return out + _sse(_TextDelta(text_id, event.text))
        if isinstance(event, MessageToolCall):
            return self._tool_call(event)
        if isinstance(event, MessageEnd):
            last = (
                _Abort()
                if event.finish_reason == "cancelled"
                else _Finish(_FinishMetadata(_REASONS[event.finish_reason]))
            )
            return self._close() + self._tool_inputs() + _sse(last) + DONE
        if isinstance(event, MessageError):
            return self._close() + b"data: " + error_chunk(event.error.message) + b"\n\n" + DONE
        return b""

    def _tool_call(self, event: MessageToolCall) -> bytes:
        out = b""
        call = self._calls.get(event.index)
        if call is None:
            call = self._calls[event.index] = [event.id or "", event.name or "", ""]
            out = self._close() + _sse(_ToolInputStart(call[0], call[1]))
        call[2] += event.arguments
        if event.arguments:
            out += _sse(_ToolInputDelta(call[0], event.arguments))
        return out

    def _tool_inputs(self) -> bytes:
        out = b""
        for call_id, name, arguments in self._calls.values():
            try:
                parsed: Any = msgspec.json.decode(arguments or "{}")
            except msgspec.DecodeError:
                parsed = arguments  # as the model wrote it, when it is not JSON
            out += _sse(_ToolInputAvailable(call_id, name, parsed))
        self._calls.clear()
        return out

    def _close(self) -> bytes:
        if not self._open or self._text_id is None:
            return b""
        self._open = False
        return _sse(_TextEnd(self._text_id))


# --- request --------------------------------------------------------------------------------


class _UIMessage(msgspec.Struct, frozen=True):
    id: str
    role: Literal["system", "user", "assistant"]
    parts: list[dict[str, Any]] = msgspec.field(default_factory=list)


class _Body(msgspec.Struct, frozen=True):
    id: str
    messages: list[_UIMessage]
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A parsed request: the chat, the history before the last user message, and it."""

    chat_id: str
    trigger: str
    prompt: str
    prompt_id: str
    images: tuple[str, ...]
    history: tuple[PriorTurn, ...]
    system: str | None


_decoder = msgspec.json.Decoder(_Body)


def _content(message: _UIMessage) -> tuple[str, tuple[str, ...]]:
    texts: list[str] = []
    images: list[str] = []
    for part in message.parts:
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "file" and str(part.get("mediaType", "")).startswith("image/"):
            url = part.get("url")
            if isinstance(url, str):
                images.append(url)
        # Reasoning, tool, source and step parts are the model's own bookkeeping.
    return "".join(texts), tuple(images)


def turn(request: ChatRequest) -> TurnRequest:
    """The turn a request asks for, in the chat its ``id`` names. A chat new to the server is
    made with the history the client sent before its prompt; the prompt's own id makes a
    resubmission idempotent, while ``regenerate-message`` asks for a new reply."""
    resubmittable = request.trigger == "submit-message"
    options = TurnOptions(
        system=request.system,
        images=request.images,
        client_message_id=request.prompt_id if resubmittable else None,
    )
    ref = ByKey(KIND, request.chat_id, history=request.history)
    return TurnRequest(ref, request.prompt, options)


def parse_request(body: bytes) -> ChatRequest:
    """Parse a ``POST /api/chat`` body; ``BadRequest`` says what is wrong."""
    try:
        request = decode_json(body, _decoder)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}", code="invalid_request") from exc
    if not request.id.strip():
        raise BadRequest("id: the chat id must not be empty", code="invalid_request")
    if not request.messages or request.messages[-1].role != "user":
        raise BadRequest(
            "messages: the last message must come from the user", code="invalid_request"
        )
    *before, last = request.messages
    system: list[str] = []
    history: list[PriorTurn] = []
    for message in before:
        text, images = _content(message)
        if message.role == "system":
            system.append(text)
        elif message.role == "user":
            history.append(PriorTurn("user", text, images))
        else:
            history.append(PriorTurn("assistant", text, images))
    prompt, images = _content(last)
    return ChatRequest(
        chat_id=request.id,
        trigger=request.trigger,
        prompt=prompt,
        prompt_id=last.id,
        images=images,
        history=tuple(history),
        system="\n\n".join(system) or None,
    )
