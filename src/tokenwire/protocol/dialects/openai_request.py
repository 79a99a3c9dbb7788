"""OpenAI Chat Completions requests: every field of the published schema is parsed into
``TurnOptions`` (honoured) or refused with a 400 whose ``param`` names it.

The fields and what becomes of each (docs/protocols.md has the table):

    honoured   model messages stream stream_options max_tokens max_completion_tokens stop
               temperature top_p seed presence_penalty frequency_penalty logit_bias
               logprobs top_logprobs tools tool_choice parallel_tool_calls response_format
               metadata user safety_identifier prompt_cache_key n (1) modalities (text)
               store (true) service_tier (auto, default)
    refused    audio prediction web_search_options reasoning_effort verbosity moderation
               functions function_call prompt_cache_options prompt_cache_retention,
               n > 1, store false, any field not in the schema

Ranges are OpenAI's: temperature 0..2, top_p 0..1, penalties -2..2, top_logprobs 0..20
(with logprobs), logit_bias -100..100, at most 4 stop sequences and 128 tools. A ``null``
field is an absent one, as in OpenAI's SDKs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from tokenwire.protocol.decoding import decode_json
from tokenwire.protocol.dialects.turns import CallInfo, PriorTurn
from tokenwire.protocol.option_fields import OptionFields, Positive, bad, translate, turn_fields
from tokenwire.protocol.options import ByHistory, TurnOptions, TurnRequest

__all__ = ["KIND", "REFUSED", "ChatCall", "parse_request"]

KIND = "openai"  # the kind of the conversations this dialect makes

# Fields of the schema tokenwire does not serve, and why (the 400's message).
REFUSED: dict[str, str] = {
    "audio": "audio output is not supported",
    "prediction": "predicted outputs are not supported",
    "web_search_options": "web search is not supported",
    "reasoning_effort": "the models served do not reason in separate tokens",
    "verbosity": "the models served have no verbosity setting",
    "moderation": "moderation is not supported",
    "functions": "the deprecated functions are not supported; use tools",
    "function_call": "the deprecated function_call is not supported; use tool_choice",
    "prompt_cache_options": "prompt cache options are not supported",
    "prompt_cache_retention": "prompt cache retention is not supported",
}


class _ImageURL(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class _TextPart(msgspec.Struct, frozen=True, tag="text", tag_field="type"):
    text: str


class _ImagePart(msgspec.Struct, frozen=True, tag="image_url", tag_field="type"):
    image_url: _ImageURL


class _RefusalPart(msgspec.Struct, frozen=True, tag="refusal", tag_field="type"):
    refusal: str


class _Function(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    arguments: str


class _ToolCall(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    function: _Function
    type: Literal["function"] = "function"


class _System(msgspec.Struct, frozen=True, tag="system", tag_field="role"):
    content: str | list[_TextPart]
    name: str | None = None


class _Developer(msgspec.Struct, frozen=True, tag="developer", tag_field="role"):
    content: str | list[_TextPart]
    name: str | None = None


class _User(msgspec.Struct, frozen=True, tag="user", tag_field="role"):
    content: str | list[_TextPart | _ImagePart]
    name: str | None = None


class _Assistant(msgspec.Struct, frozen=True, tag="assistant", tag_field="role"):
    content: str | list[_TextPart | _RefusalPart] | None = None
    tool_calls: list[_ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None
    audio: Any = None
    function_call: Any = None


class _Tool(msgspec.Struct, frozen=True, tag="tool", tag_field="role"):
    content: str | list[_TextPart]
    tool_call_id: str


_Message = _System | _Developer | _User | _Assistant | _Tool


class _StreamOptions(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class _Request(OptionFields, frozen=True, kw_only=True, forbid_unknown_fields=True):
    model: str
    messages: list[_Message]
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    n: Positive | None = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    modalities: list[str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    # Refused when set (REFUSED); typed loosely so the refusal can name them.
    audio: Any = None
    prediction: Any = None
    web_search_options: Any = None
    reasoning_effort: Any = None
    verbosity: Any = None
    moderation: Any = None
    functions: Any = None
    function_call: Any = None
    prompt_cache_options: Any = None
    prompt_cache_retention: Any = None


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A parsed request: the conversation before its last message, that message, and the
    options of the turn.

    The last message is the user's ``prompt``, or the result of a tool call (``options.
    tool_call_id`` set): an agent loop's turn after the tools ran.
    """

    model: str
    prompt: str
    images: tuple[str, ...]
    history: tuple[PriorTurn, ...]
    system: str | None
    stream: bool
    include_usage: bool
    options: TurnOptions

    @property
    def turn(self) -> TurnRequest:
        """The turn the call asks for. The messages before the last one are the history of
        a new conversation, unless they are exactly a conversation tokenwire answered (the
        same system text and turns, its last reply and tool calls included; the digest of
        those is the conversation's key in the store): then the new turn continues it. The
        system text is kept in the conversation's metadata as ``system``."""
        return TurnRequest(ByHistory(KIND, self.history, self.system), self.prompt, self.options)


_decoder = msgspec.json.Decoder(_Request)


def _decode(body: bytes) -> _Request:
    try:
        return decode_json(body, _decoder)
    except msgspec.ValidationError as exc:
        raise translate(exc) from exc
    except msgspec.DecodeError as exc:
        raise bad(f"invalid request body: {exc}", None, "invalid_request_error") from exc


def _text(content: str | list[Any] | None) -> tuple[str, tuple[str, ...]]:
    if content is None:
        return "", ()
    if isinstance(content, str):
        return content, ()
    texts = [p.text for p in content if isinstance(p, _TextPart)]
    texts += [p.refusal for p in content if isinstance(p, _RefusalPart)]
    images = tuple(p.image_url.url for p in content if isinstance(p, _ImagePart))
    return "\n".join(texts), images


def _refuse_unserved(request: _Request) -> None:
    for field, why in REFUSED.items():
        if getattr(request, field) is not None:
            raise bad(f"{field}: {why}", field, "unsupported_parameter")
    if request.n is not None and request.n > 1:
        raise bad("n: only one choice per request is served (n must be 1)", "n")
    if request.store is False:
        raise bad("store: tokenwire keeps every conversation; store cannot be false", "store")
    if request.service_tier not in (None, "auto", "default"):
        raise bad(f"service_tier: {request.service_tier!r} is not offered", "service_tier")
    if request.modalities is not None and set(request.modalities) - {"text"}:
        raise bad("modalities: only text output is supported", "modalities")
    options = request.stream_options
    if options is not None:
        if not request.stream:
            raise bad("stream_options: only allowed when stream is true", "stream_options")
        if options.include_obfuscation:
            raise bad(
                "stream_options.include_obfuscation: the stream is not padded",
                "stream_options.include_obfuscation",
            )


def _metadata(metadata: dict[str, str] | None) -> dict[str, Any]:
    metadata = metadata or {}
    if len(metadata) > 16:
        raise bad("metadata: at most 16 keys", "metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise bad(
                f"metadata: key {key[:64]!r} longer than 64 or value longer than 512", "metadata"
            )
    return dict(metadata)


def _history(messages: list[_Message]) -> tuple[list[str], list[PriorTurn]]:
    """The system texts and the turns of ``messages``; a tool result must answer a call of
    the assistant turn before it."""
    system: list[str] = []
    turns: list[PriorTurn] = []
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        if isinstance(message, _System | _Developer):
            system.append(_text(message.content)[0])
            continue
        if isinstance(message, _Tool):
            if message.tool_call_id not in open_calls:
                raise bad(
                    f"messages[{i}]: a tool message must answer a tool call of the assistant "
                    f"message before it ({message.tool_call_id!r} is not one)",
                    f"messages[{i}].tool_call_id",
                )
            turns.append(
                PriorTurn("tool", _text(message.content)[0], tool_call_id=message.tool_call_id)
            )
            continue
        open_calls = set()
        if isinstance(message, _User):
            text, images = _text(message.content)
            turns.append(PriorTurn("user", text, images))
            continue
        for field in ("audio", "function_call"):
            if getattr(message, field) is not None:
                raise bad(f"messages[{i}].{field}: not supported", f"messages[{i}].{field}")
        calls = tuple(
            CallInfo(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or ()
        )
        open_calls = {c.id for c in calls}
        text = _text(message.content)[0] or (message.refusal or "")
        turns.append(PriorTurn("assistant", text, tool_calls=calls))
    return system, turns


def parse_request(body: bytes) -> ChatCall:
    """Parse a ``POST /v1/chat/completions`` body; ``BadRequest`` with ``param`` set for
    anything tokenwire cannot answer as asked."""
    request = _decode(body)
    _refuse_unserved(request)
    if not request.messages:
        raise bad("messages: must contain at least one message", "messages")
    system, turns = _history(request.messages)
    if not turns or turns[-1].role == "assistant":
        raise bad(
            "messages: the last message must come from the user or be a tool result",
            "messages",
        )
    last = turns.pop()
    system_text = "\n\n".join(system) or None
    options = TurnOptions(
        model=request.model,
        system=system_text,
        images=last.images,
        metadata=_metadata(request.metadata),
        tool_call_id=last.tool_call_id,
        **turn_fields(request),
    )
    return ChatCall(
        model=request.model,
        prompt=last.content,
        images=last.images,
        history=tuple(turns),
        system=system_text,
        stream=bool(request.stream),
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        options=options,
    )
