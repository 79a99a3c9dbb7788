"""OpenAI Chat Completions: stream chunks, the completion object, errors, models.
(Requests are parsed in ``openai_request``.)

Streaming answers are SSE ``data:`` lines of ``chat.completion.chunk`` objects: the first
carries ``delta.role``, each delta one ``delta.content`` (with its ``logprobs`` when they
were asked for), each piece of a tool call one ``delta.tool_calls`` entry, the last an empty
delta with ``finish_reason``; with ``stream_options.include_usage`` every chunk has
``"usage": null`` and one more chunk with no choices carries the usage. Then
``data: [DONE]``.

An error after the response has started is a ``data: {"error": {...}}`` line, which the
official SDKs raise as an ``APIError``. Errors before it are ``{"error": {"message",
"type", "param", "code"}}`` bodies with an HTTP status.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from tokenwire.errors import TokenwireError
from tokenwire.protocol.dialects.openai_request import ChatCall, parse_request
from tokenwire.protocol.dialects.timestamps import epoch_seconds
from tokenwire.protocol.dialects.turns import CallInfo
from tokenwire.protocol.events import (
    Event,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageStart,
    MessageToolCall,
    TokenLogprob,
)
from tokenwire.protocol.resources import Message

__all__ = [
    "DONE",
    "ChatCall",
    "ChatCompletionChunkEncoder",
    "answer",
    "completion",
    "completion_id",
    "encoder",
    "error_body",
    "error_type",
    "finish_reason",
    "logprobs_of",
    "model_list",
    "model_object",
    "parse_request",
    "refusal",
]

DONE = b"data: [DONE]\n\n"

# --- response -------------------------------------------------------------------------------


class _FunctionPiece(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    name: str | None = None
    arguments: str


class _ToolCallPiece(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """A ``delta.tool_calls`` entry: ``id`` and ``type`` only on a call's first piece."""

    index: int
    id: str | None = None
    type: str | None = None
    function: _FunctionPiece


class _Delta(msgspec.Struct, frozen=True, omit_defaults=True):
    role: str | None = None
    content: str | None = None
    tool_calls: list[_ToolCallPiece] | None = None


class _Logprobs(msgspec.Struct, frozen=True):
    content: list[TokenLogprob]
    refusal: None = None


class _ChunkChoice(msgspec.Struct, frozen=True):
    index: int
    delta: _Delta
    logprobs: _Logprobs | None
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


class _Function(msgspec.Struct, frozen=True):
    name: str
    arguments: str


class _ToolCall(msgspec.Struct, frozen=True):
    id: str
    type: str
    function: _Function


class _AssistantMessage(msgspec.Struct, frozen=True):
    role: str
    content: str | None
    refusal: None = None
    tool_calls: list[_ToolCall] | msgspec.UnsetType = msgspec.UNSET


class _Choice(msgspec.Struct, frozen=True):
    index: int
    message: _AssistantMessage
    logprobs: _Logprobs | None
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
    """OpenAI knows ``stop``, ``length`` and ``tool_calls``; a cancelled reply stopped, so
    ``stop``."""
    return reason if reason in ("length", "tool_calls") else "stop"


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
    """OpenAI's error object; ``param`` names the request field at fault, when one is."""
    return _json.encode(_ErrorBody(_ErrorDetail(message, error_type(status), param, code)))


def refusal(error: TokenwireError) -> bytes:
    """A request refused, as OpenAI answers it: a missing or wrong key is
    ``invalid_api_key``, which is the code the SDKs raise ``AuthenticationError`` on."""
    code = "invalid_api_key" if error.status == 401 else error.code
    return error_body(error.message, status=error.status, code=code, param=error.param)


class ChatCompletionChunkEncoder:
    """Canonical events of one reply -> ``chat.completion.chunk`` SSE lines."""

    def __init__(self, model: str, *, include_usage: bool = False, logprobs: bool = False) -> None:
        """``logprobs``: the request asked for them, so each content chunk carries them."""
        self.model = model
        self.include_usage = include_usage
        self.logprobs = logprobs
        self._id = ""
        self._created = 0

    def _chunk(self, delta: _Delta, finish: str | None, logprobs: _Logprobs | None = None) -> bytes:
        chunk = _Chunk(
            id=self._id,
            object="chat.completion.chunk",
            created=self._created,
            model=self.model,
            choices=[_ChunkChoice(0, delta, logprobs, finish)],
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
            logprobs = None
            if self.logprobs:
                tokens = event.logprobs if event.logprobs is not msgspec.UNSET else []
                logprobs = _Logprobs(tokens)
            return self._chunk(_Delta(content=event.text), None, logprobs)
        if isinstance(event, MessageToolCall):
            return self._chunk(_Delta(tool_calls=[_tool_call_piece(event)]), None)
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


def encoder(call: ChatCall) -> ChatCompletionChunkEncoder:
    """The chunk encoder of a streamed call: its model, usage and log probabilities as asked."""
    logprobs = call.options.sampling.logprobs
    return ChatCompletionChunkEncoder(
        call.model, include_usage=call.include_usage, logprobs=logprobs
    )


def _tool_call_piece(event: MessageToolCall) -> _ToolCallPiece:
    return _ToolCallPiece(
        index=event.index,
        id=event.id,
        type="function" if event.id is not None else None,
        function=_FunctionPiece(name=event.name, arguments=event.arguments),
    )


def completion(
    *,
    message_id: str,
    created: int,
    model: str,
    content: str,
    finish: str,
    prompt_tokens: int,
    completion_tokens: int,
    tool_calls: Sequence[CallInfo] = (),
    logprobs: list[TokenLogprob] | None = None,
) -> bytes:
    """The ``chat.completion`` object of a reply answered whole (``stream`` false).

    ``logprobs``: the reply's tokens, when the request asked for them (else ``null``)."""
    message = _AssistantMessage("assistant", content)
    if tool_calls:
        calls = [_ToolCall(c.id, "function", _Function(c.name, c.arguments)) for c in tool_calls]
        message = _AssistantMessage("assistant", content or None, tool_calls=calls)
    choice = _Choice(
        0,
        message,
        _Logprobs(logprobs) if logprobs is not None else None,
        finish_reason(finish),
    )
    body = _Completion(
        id=completion_id(message_id),
        object="chat.completion",
        created=created,
        model=model,
        choices=[choice],
        usage=Usage(prompt_tokens, completion_tokens, prompt_tokens + completion_tokens),
    )
    return _json.encode(body)


def answer(
    reply: Message,
    model: str,
    *,
    tool_calls: Sequence[CallInfo] = (),
    logprobs: list[TokenLogprob] | None = None,
) -> bytes:
    """The ``chat.completion`` of a finished ``reply`` (``completion``'s, from the message)."""
    usage = reply.usage
    return completion(
        message_id=reply.id,
        created=epoch_seconds(reply.created_at),
        model=model,
        content=reply.content,
        finish=reply.finish_reason or "stop",
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        tool_calls=tool_calls,
        logprobs=logprobs,
    )


def logprobs_of(events: Sequence[Event]) -> list[TokenLogprob]:
    """The log probabilities the deltas among ``events`` carry: they travel with the live
    events only (the stored row keeps the text), so a reply answered whole collects them
    while it runs."""
    return [
        token
        for event in events
        if isinstance(event, MessageDelta) and event.logprobs is not msgspec.UNSET
        for token in event.logprobs
    ]


def model_list(models: list[str], *, created: int = 0) -> bytes:
    """``GET /v1/models``."""
    data = [_Model(m, "model", created, "tokenwire") for m in models]
    return _json.encode(_ModelList("list", data))


def model_object(model: str, *, created: int = 0) -> bytes:
    """``GET /v1/models/{model}``."""
    return _json.encode(_Model(model, "model", created, "tokenwire"))
