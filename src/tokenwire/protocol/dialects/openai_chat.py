"""OpenAI Chat Completions: request parsing, stream chunks, the completion object.

Streaming answers are SSE ``data:`` lines of ``chat.completion.chunk`` objects: the first
carries ``delta.role``, each delta one ``delta.content``, the last an empty delta with
``finish_reason``; with ``stream_options.include_usage`` every chunk has ``"usage": null``
and one more chunk with no choices carries the usage. Then ``data: [DONE]``.

An error after the response has started is a ``data: {"error": {...}}`` line, which the
official SDKs raise as an ``APIError``. Errors before it are ``{"error": {"message",
"type", "param", "code"}}`` bodies with an HTTP status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgspec

from tokenwire.errors import BadRequest
from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.dialects.timestamps import epoch_seconds
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.protocol.events import Event, MessageDelta, MessageEnd, MessageError, MessageStart

__all__ = [
    "DONE",
    "ChatCall",
    "ChatCompletionChunkEncoder",
    "completion",
    "completion_id",
    "error_body",
    "error_type",
    "finish_reason",
    "model_list",
    "model_object",
    "parse_request",
]

DONE = b"data: [DONE]\n\n"

# --- request --------------------------------------------------------------------------------


class _ImageURL(msgspec.Struct, frozen=True):
    url: str
    detail: str | None = None


class _TextPart(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    text: str


class _ImagePart(msgspec.Struct, frozen=True, tag="image_url", tag_field="type"):
    image_url: _ImageURL


class _Message(msgspec.Struct, frozen=True):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[_TextPart | _ImagePart] | None = None
    name: str | None = None


class _StreamOptions(msgspec.Struct, frozen=True):
    include_usage: bool = False


class _Request(msgspec.Struct, frozen=True):
    model: str
    messages: list[_Message]
    stream: bool = False
    stream_options: _StreamOptions | None = None
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A parsed request: the history before the last user message, and that message."""

    model: str
    prompt: str
    images: tuple[str, ...]
    history: tuple[PriorTurn, ...]
    system: str | None
    stream: bool
    include_usage: bool
    max_tokens: int | None = None
    temperature: float | None = None


_decoder = msgspec.json.Decoder(_Request)


def _content(message: _Message) -> tuple[str, tuple[str, ...]]:
    if message.content is None:
        return "", ()
    if isinstance(message.content, str):
        return message.content, ()
    texts = [p.text for p in message.content if isinstance(p, _TextPart)]
    images = tuple(p.image_url.url for p in message.content if isinstance(p, _ImagePart))
    return "\n".join(texts), images


def parse_request(body: bytes) -> ChatCall:
    """Parse a ``POST /v1/chat/completions`` body; ``BadRequest`` (with ``param`` in the
    message) for anything tokenwire cannot answer as asked."""
    try:
        request = decode_json(body, _decoder)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"invalid request body: {exc}", code="invalid_request_error") from exc
    if request.n not in (None, 1):
        raise BadRequest("n: only one choice is supported", code="invalid_value")
    if not request.messages:
        raise BadRequest("messages: must contain at least one message", code="invalid_value")
    *before, last = request.messages
    if last.role != "user":
        raise BadRequest("messages: the last message must come from the user", code="invalid_value")
    system: list[str] = []
    history: list[PriorTurn] = []
    for message in before:
        text, images = _content(message)
        if message.role in ("system", "developer"):
            system.append(text)
        elif message.role == "user":
            history.append(PriorTurn("user", text, images))
        elif message.role == "assistant":
            history.append(PriorTurn("assistant", text, images))
        else:
            raise BadRequest(
                f"messages: role {message.role!r} is not supported", code="invalid_value"
            )
    prompt, images = _content(last)
    return ChatCall(
        model=request.model,
        prompt=prompt,
        images=images,
        history=tuple(history),
        system="\n\n".join(system) or None,
        stream=request.stream,
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        max_tokens=request.max_completion_tokens or request.max_tokens,
        temperature=request.temperature,
    )


# --- response -------------------------------------------------------------------------------


class _Delta(msgspec.Struct, frozen=True, omit_defaults=True):
    role: str | None = None
    content: str | None = None


class _ChunkChoice(msgspec.Struct, frozen=True):
    index: int
    delta: _Delta
    logprobs: None
    finish_reason: str | None


class Usage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class _Chunk(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    object: str
    created: int
    model: str
    choices: list[_ChunkChoice]
    # UNSET leaves the key out: only a client that asked for usage sees ``"usage"``.
    usage: Usage | msgspec.UnsetType | None = msgspec.UNSET


class _AssistantMessage(msgspec.Struct, frozen=True):
    role: str
    content: str
    refusal: None = None


class _Choice(msgspec.Struct, frozen=True):
    index: int
    message: _AssistantMessage
    logprobs: None
    finish_reason: str


class _Completion(msgspec.Struct, frozen=True):
    id: str
    object: str
    created: int
    model: str
    choices: list[_Choice]
    usage: Usage


class _ErrorDetail(msgspec.Struct, frozen=True):
    message: str
    type: str
    param: str | None
    code: str | None


class _ErrorBody(msgspec.Struct, frozen=True):
    error: _ErrorDetail


class _Model(msgspec.Struct, frozen=True):
    id: str
    object: str
    created: int
    owned_by: str


class _ModelList(msgspec.Struct, frozen=True):
    object: str
    data: list[_Model]


_json = msgspec.json.Encoder()


def completion_id(message_id: str) -> str:
    """The ``chatcmpl-`` id of a reply: the tokenwire message id, recognisably."""
    return f"chatcmpl-{message_id}"


def finish_reason(reason: str) -> str:
    """OpenAI knows ``stop`` and ``length``; a cancelled reply stopped, so ``stop``."""
    return "length" if reason == "length" else "stop"


def _usage(event: MessageEnd) -> Usage:
    u = event.usage
    return Usage(u.prompt_tokens, u.completion_tokens, u.prompt_tokens + u.completion_tokens)


def error_type(status: int) -> str:
    """The ``type`` OpenAI gives an error of this HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error" if status != 503 else "service_unavailable_error"
    return "invalid_request_error"


def error_body(
    message: str, *, status: int, code: str | None = None, param: str | None = None
) -> bytes:
    return _json.encode(_ErrorBody(_ErrorDetail(message, error_type(status), param, code)))


class ChatCompletionChunkEncoder:
    """Canonical events of one reply -> ``chat.completion.chunk`` SSE lines."""

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self._id = ""
        self._created = 0

    def _chunk(self, delta: _Delta, finish: str | None) -> bytes:
        chunk = _Chunk(
            id=self._id,
            object="chat.completion.chunk",
            created=self._created,
            model=self.model,
            choices=[_ChunkChoice(0, delta, None, finish)],
            usage=None if self.include_usage else msgspec.UNSET,
        )
        return b"data: " + _json.encode(chunk) + b"\n\n"

    def encode(self, event: Event) -> bytes:
        """The SSE bytes for one event; the terminal event brings ``data: [DONE]``."""
        if isinstance(event, MessageStart):
            self._id = completion_id(event.message_id)
            self._created = epoch_seconds(event.created_at)
            return self._chunk(_Delta(role="assistant", content=""), None)
        if isinstance(event, MessageDelta):
            return self._chunk(_Delta(content=event.text), None)
        if isinstance(event, MessageEnd):
            out = self._chunk(_Delta(), finish_reason(event.finish_reason))
            if self.include_usage:
                last = _Chunk(
                    id=self._id,
                    object="chat.completion.chunk",
                    created=self._created,
                    model=self.model,
                    choices=[],
                    usage=_usage(event),
                )
                out += b"data: " + _json.encode(last) + b"\n\n"
            return out + DONE
        if isinstance(event, MessageError):
            body = error_body(event.error.message, status=502, code=event.error.code)
            return b"data: " + body + b"\n\n" + DONE
        return b""


def completion(
    *,
    message_id: str,
    created: int,
    model: str,
    content: str,
    finish: str,
    prompt_tokens: int,
    completion_tokens: int,
) -> bytes:
    """The ``chat.completion`` object of a reply answered whole (``stream`` false)."""
    choice = _Choice(0, _AssistantMessage("assistant", content), None, finish_reason(finish))
    body = _Completion(
        id=completion_id(message_id),
        object="chat.completion",
        created=created,
        model=model,
        choices=[choice],
        usage=Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens),
    )
    return _json.encode(body)


def model_list(models: list[str], *, created: int = 0) -> bytes:
    """``GET /v1/models``."""
    data = [_Model(m, "model", created, "tokenwire") for m in models]
    return _json.encode(_ModelList("list", data))


def model_object(model: str, *, created: int = 0) -> bytes:
    """``GET /v1/models/{model}``."""
    return _json.encode(_Model(model, "model", created, "tokenwire"))
