"""What tokenwire sends an OpenAI-compatible upstream, and reads back, beyond plain text.

The request body carries every option the client gave, unchanged: the sampling settings,
``tools``, ``tool_choice``, ``parallel_tool_calls``, ``response_format``; the upstream
decides what its model does with them. A streamed choice's ``delta.tool_calls`` pieces come
back as ``ToolCallDelta`` items exactly as the upstream cut them, and its ``logprobs`` as the
``logprobs`` of the text delta they belong to.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tokenwire.protocol.options import Sampling
from tokenwire.providers.base import (
    ChatTurn,
    Delta,
    GenerationRequest,
    StreamItem,
    TokenLogprob,
    ToolCallDelta,
    TopLogprob,
)

__all__ = ["ChunkChoice", "choice_items", "message", "request_fields"]


def _sampling_fields(sampling: Sampling, cap: int | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    # The configured limit caps what a request may ask for, as for the embedded model.
    limits = [n for n in (sampling.max_tokens, cap) if n is not None]
    if limits:
        fields["max_tokens"] = min(limits)
    if sampling.stop:
        fields["stop"] = list(sampling.stop)
    optional = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "seed": sampling.seed,
        "presence_penalty": sampling.presence_penalty,
        "frequency_penalty": sampling.frequency_penalty,
        "logit_bias": sampling.logit_bias,
        "top_logprobs": sampling.top_logprobs,
        "user": sampling.user,
        "safety_identifier": sampling.safety_identifier,
        "prompt_cache_key": sampling.prompt_cache_key,
    }
    fields.update({k: v for k, v in optional.items() if v is not None})
    if sampling.logprobs:
        fields["logprobs"] = True
    return fields


def request_fields(
    request: GenerationRequest, *, max_tokens: int | None, temperature: float | None
) -> dict[str, Any]:
    """The body's fields besides ``model``, ``messages`` and the streaming ones.

    ``max_tokens`` and ``temperature`` are the provider's configured cap and default.
    """
    fields = _sampling_fields(request.sampling, max_tokens)
    if "temperature" not in fields and temperature is not None:
        fields["temperature"] = temperature
    if request.tools:
        fields["tools"] = list(request.tools)
    if request.tool_choice is not None:
        fields["tool_choice"] = request.tool_choice
    if request.parallel_tool_calls is not None:
        fields["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        fields["response_format"] = request.response_format
    return fields


def message(turn: ChatTurn) -> dict[str, Any]:
    """One turn as an OpenAI chat message."""
    if turn.role == "tool":
        return {"role": "tool", "tool_call_id": turn.tool_call_id or "", "content": turn.content}
    if turn.tool_calls:
        calls = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in turn.tool_calls
        ]
        return {"role": turn.role, "content": turn.content or None, "tool_calls": calls}
    if not turn.images:
        return {"role": turn.role, "content": turn.content}
    parts: list[dict[str, Any]] = [{"type": "text", "text": turn.content}]
    parts.extend({"type": "image_url", "image_url": {"url": url}} for url in turn.images)
    return {"role": turn.role, "content": parts}


# --- the streamed chunk's choice ------------------------------------------------------------


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallPiece(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: _Function | None = None


class ChunkDelta(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolCallPiece] | None = None


class _Top(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int] | None = None


class _TokenLogprob(msgspec.Struct):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[_Top] = msgspec.field(default_factory=list)


class _Logprobs(msgspec.Struct):
    content: list[_TokenLogprob] | None = None


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: ChunkDelta = msgspec.field(default_factory=ChunkDelta)
    logprobs: _Logprobs | None = None
    finish_reason: str | None = None


def _raw(token: str, raw: list[int] | None) -> tuple[int, ...]:
    return tuple(raw) if raw is not None else tuple(token.encode())


def _logprobs(logprobs: _Logprobs | None) -> tuple[TokenLogprob, ...]:
    if logprobs is None or not logprobs.content:
        return ()
    return tuple(
        TokenLogprob(
            t.token,
            t.logprob,
            _raw(t.token, t.bytes),
            tuple(TopLogprob(x.token, x.logprob, _raw(x.token, x.bytes)) for x in t.top_logprobs),
        )
        for t in logprobs.content
    )


def choice_items(choice: ChunkChoice) -> list[StreamItem]:
    """The stream items of one streamed choice: its text (with its log probabilities) and
    its tool-call pieces, in that order."""
    items: list[StreamItem] = []
    logprobs = _logprobs(choice.logprobs)
    if choice.delta.content or logprobs:
        items.append(Delta(choice.delta.content or "", logprobs))
    for piece in choice.delta.tool_calls or ():
        function = piece.function or _Function()
        items.append(ToolCallDelta(piece.index, piece.id, function.name, function.arguments or ""))
    return items
