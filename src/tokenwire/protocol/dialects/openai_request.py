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

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

from tokenwire.errors import BadRequest
from tokenwire.protocol.dialects.turns import CallInfo, PriorTurn
from tokenwire.protocol.options import Sampling, TurnOptions

__all__ = ["REFUSED", "ChatCall", "parse_request"]

Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]
Positive = Annotated[int, msgspec.Meta(ge=1)]

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


class _Request(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str
    messages: list[_Message]
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    n: Positive | None = None
    max_tokens: Positive | None = None
    max_completion_tokens: Positive | None = None
    stop: str | list[str] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    top_p: Unit | None = None
    seed: int | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[float, msgspec.Meta(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, msgspec.Meta(ge=0, le=20)] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
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


_decoder = msgspec.json.Decoder(_Request)
_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _bad(message: str, param: str | None, code: str = "invalid_value") -> BadRequest:
    return BadRequest(message, code=code, param=param)


def _decode(body: bytes) -> _Request:
    try:
        return _decoder.decode(body)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        # A dict's key is not in msgspec's path ("logit_bias[...]"): the field names it.
        path = match.group(1).replace("[...]", "") if match else ""
        unknown = _UNKNOWN.match(text)
        if unknown:
            field = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
            raise _bad(
                f"Unrecognized request argument supplied: {field}", field, "unknown_parameter"
            ) from exc
        message = text[: match.start()] if match else text
        raise _bad(f"{path or 'body'}: {message}", path or None) from exc
    except msgspec.DecodeError as exc:
        raise _bad(f"invalid request body: {exc}", None, "invalid_request_error") from exc


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
            raise _bad(f"{field}: {why}", field, "unsupported_parameter")
    if request.n is not None and request.n > 1:
        raise _bad("n: only one choice per request is served (n must be 1)", "n")
    if request.store is False:
        raise _bad("store: tokenwire keeps every conversation; store cannot be false", "store")
    if request.service_tier not in (None, "auto", "default"):
        raise _bad(f"service_tier: {request.service_tier!r} is not offered", "service_tier")
    if request.modalities is not None and set(request.modalities) - {"text"}:
        raise _bad("modalities: only text output is supported", "modalities")
    options = request.stream_options
    if options is not None:
        if not request.stream:
            raise _bad("stream_options: only allowed when stream is true", "stream_options")
        if options.include_obfuscation:
            raise _bad(
                "stream_options.include_obfuscation: the stream is not padded",
                "stream_options.include_obfuscation",
            )


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    if len(stops) > 4:
        raise _bad("stop: at most 4 sequences", "stop")
    if any(not s for s in stops):
        raise _bad("stop: a sequence must not be empty", "stop")
    return tuple(stops)


def _sampling(request: _Request) -> Sampling:
    if request.top_logprobs is not None and not request.logprobs:
        raise _bad("top_logprobs: logprobs must be true to use it", "top_logprobs")
    for key in request.logit_bias or {}:
        if not key.isdigit():
            raise _bad(f"logit_bias: {key!r} is not a token id", "logit_bias")
    limits = [n for n in (request.max_tokens, request.max_completion_tokens) if n is not None]
    return Sampling(
        max_tokens=min(limits) if limits else None,
        stop=_stop(request.stop),
        temperature=request.temperature,
        top_p=request.top_p,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        logit_bias=request.logit_bias,
        logprobs=bool(request.logprobs),
        top_logprobs=request.top_logprobs,
        user=request.user,
        safety_identifier=request.safety_identifier,
        prompt_cache_key=request.prompt_cache_key,
    )


def _tools(request: _Request) -> tuple[dict[str, Any], ...]:
    tools = request.tools or []
    if len(tools) > 128:
        raise _bad("tools: at most 128 tools", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise _bad(f"tools[{i}]: only function tools are supported", f"tools[{i}].type")
        if not _TOOL_NAME.match(str(function.get("name", ""))):
            raise _bad(
                f"tools[{i}].function.name: 1 to 64 letters, digits, _ or -",
                f"tools[{i}].function.name",
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _bad(
                f"tools[{i}].function.parameters: must be a JSON schema object",
                f"tools[{i}].function.parameters",
            )
    return tuple(tools)


def _tool_choice(request: _Request, tools: tuple[dict[str, Any], ...]) -> str | dict[str, Any]:
    choice = request.tool_choice
    if choice is None:
        return "auto" if tools else "none"
    if not tools:
        raise _bad("tool_choice: only allowed when tools are specified", "tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise _bad(f"tool_choice: {choice!r} is not none, auto or required", "tool_choice")
        return choice
    name = choice.get("function", {}).get("name") if choice.get("type") == "function" else None
    if not isinstance(name, str):
        raise _bad("tool_choice: only a function may be named", "tool_choice")
    if name not in {t["function"]["name"] for t in tools}:
        raise _bad(f"tool_choice: no tool is named {name!r}", "tool_choice")
    return choice


def _response_format(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return value
    if kind != "json_schema":
        raise _bad(
            f"response_format.type: {kind!r} is not text, json_object or json_schema",
            "response_format.type",
        )
    spec = value.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise _bad(
            "response_format.json_schema: an object with a name is required",
            "response_format.json_schema",
        )
    if not isinstance(spec.get("schema", {}), dict):
        raise _bad(
            "response_format.json_schema.schema: must be a JSON schema object",
            "response_format.json_schema.schema",
        )
    return value


def _metadata(metadata: dict[str, str] | None) -> dict[str, Any]:
    metadata = metadata or {}
    if len(metadata) > 16:
        raise _bad("metadata: at most 16 keys", "metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise _bad(
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
                raise _bad(
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
                raise _bad(f"messages[{i}].{field}: not supported", f"messages[{i}].{field}")
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
        raise _bad("messages: must contain at least one message", "messages")
    system, turns = _history(request.messages)
    if not turns or turns[-1].role == "assistant":
        raise _bad(
            "messages: the last message must come from the user or be a tool result",
            "messages",
        )
    last = turns.pop()
    tools = _tools(request)
    if request.parallel_tool_calls is not None and not tools:
        raise _bad(
            "parallel_tool_calls: only allowed when tools are specified", "parallel_tool_calls"
        )
    system_text = "\n\n".join(system) or None
    options = TurnOptions(
        model=request.model,
        system=system_text,
        sampling=_sampling(request),
        images=last.images,
        tools=tools,
        tool_choice=_tool_choice(request, tools) if tools or request.tool_choice else None,
        parallel_tool_calls=request.parallel_tool_calls,
        response_format=_response_format(request.response_format),
        metadata=_metadata(request.metadata),
        tool_call_id=last.tool_call_id,
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
