"""The options a send may carry besides its content, in OpenAI's shapes and validated as
OpenAI validates them: the fields every dialect that takes them shares (the OpenAI dialect,
the canonical HTTP send and WebSocket frame).

``OptionFields`` is decoded with msgspec (ranges in the types); ``turn_fields`` checks what
the types cannot say and gives the ``TurnOptions`` fields. Every refusal is a ``BadRequest``
whose ``param`` names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from tokenwire.errors import BadRequest
from tokenwire.protocol.options import Sampling

__all__ = ["OptionFields", "bad", "decode_options", "translate", "turn_fields"]

Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]
Penalty = Annotated[float, msgspec.Meta(ge=-2, le=2)]
Positive = Annotated[int, msgspec.Meta(ge=1)]

_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class OptionFields(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
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
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None


def bad(message: str, param: str | None, code: str = "invalid_value") -> BadRequest:
    return BadRequest(message, code=code, param=param)


def translate(exc: msgspec.ValidationError) -> BadRequest:
    """msgspec's validation error as a ``BadRequest`` naming the field (OpenAI's wording for
    a field it does not know)."""
    text = str(exc)
    match = _PATH.search(text)
    # A dict's key is not in msgspec's path ("logit_bias[...]"): the field names it.
    path = match.group(1).replace("[...]", "") if match else ""
    unknown = _UNKNOWN.match(text)
    if unknown:
        field = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        return bad(f"Unrecognized request argument supplied: {field}", field, "unknown_parameter")
    message = text[: match.start()] if match else text
    return bad(f"{path or 'body'}: {message}", path or None)


def decode_options(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``TurnOptions`` fields of the option fields in ``raw`` (a send's body besides its
    own fields)."""
    try:
        fields = msgspec.convert(dict(raw), OptionFields)
    except msgspec.ValidationError as exc:
        raise translate(exc) from exc
    return turn_fields(fields)


def _stop(stop: str | list[str] | None) -> tuple[str, ...]:
    stops = [stop] if isinstance(stop, str) else list(stop or ())
    if len(stops) > 4:
        raise bad("stop: at most 4 sequences", "stop")
    if any(not s for s in stops):
        raise bad("stop: a sequence must not be empty", "stop")
    return tuple(stops)


def _sampling(fields: OptionFields) -> Sampling:
    if fields.top_logprobs is not None and not fields.logprobs:
        raise bad("top_logprobs: logprobs must be true to use it", "top_logprobs")
    for key in fields.logit_bias or {}:
        if not key.isdigit():
            raise bad(f"logit_bias: {key!r} is not a token id", "logit_bias")
    limits = [n for n in (fields.max_tokens, fields.max_completion_tokens) if n is not None]
    return Sampling(
        max_tokens=min(limits) if limits else None,
        stop=_stop(fields.stop),
        temperature=fields.temperature,
        top_p=fields.top_p,
        seed=fields.seed,
        presence_penalty=fields.presence_penalty,
        frequency_penalty=fields.frequency_penalty,
        logit_bias=fields.logit_bias,
        logprobs=bool(fields.logprobs),
        top_logprobs=fields.top_logprobs,
        user=fields.user,
        safety_identifier=fields.safety_identifier,
        prompt_cache_key=fields.prompt_cache_key,
    )


def _tools(tools: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    if len(tools) > 128:
        raise bad("tools: at most 128 tools", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function")
        if tool.get("type") != "function" or not isinstance(function, dict):
            raise bad(f"tools[{i}]: only function tools are supported", f"tools[{i}].type")
        if not _TOOL_NAME.match(str(function.get("name", ""))):
            raise bad(
                f"tools[{i}].function.name: 1 to 64 letters, digits, _ or -",
                f"tools[{i}].function.name",
            )
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise bad(
                f"tools[{i}].function.parameters: must be a JSON schema object",
                f"tools[{i}].function.parameters",
            )
    return tuple(tools)


def _tool_choice(
    choice: str | dict[str, Any] | None, tools: tuple[dict[str, Any], ...]
) -> str | dict[str, Any] | None:
    if choice is None:
        return "auto" if tools else None
    if not tools:
        raise bad("tool_choice: only allowed when tools are specified", "tool_choice")
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise bad(f"tool_choice: {choice!r} is not none, auto or required", "tool_choice")
        return choice
    name = choice.get("function", {}).get("name") if choice.get("type") == "function" else None
    if not isinstance(name, str):
        raise bad("tool_choice: only a function may be named", "tool_choice")
    if name not in {t["function"]["name"] for t in tools}:
        raise bad(f"tool_choice: no tool is named {name!r}", "tool_choice")
    return choice


def _response_format(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return value
    if kind != "json_schema":
        raise bad(
            f"response_format.type: {kind!r} is not text, json_object or json_schema",
            "response_format.type",
        )
    spec = value.get("json_schema")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise bad(
            "response_format.json_schema: an object with a name is required",
            "response_format.json_schema",
        )
    if not isinstance(spec.get("schema", {}), dict):
        raise bad(
            "response_format.json_schema.schema: must be a JSON schema object",
            "response_format.json_schema.schema",
        )
    return value


def turn_fields(fields: OptionFields) -> dict[str, Any]:
    """``sampling``, ``tools``, ``tool_choice``, ``parallel_tool_calls`` and
    ``response_format`` for ``TurnOptions``, each checked."""
    tools = _tools(fields.tools or [])
    if fields.parallel_tool_calls is not None and not tools:
        raise bad(
            "parallel_tool_calls: only allowed when tools are specified", "parallel_tool_calls"
        )
    return {
        "sampling": _sampling(fields),
        "tools": tools,
        "tool_choice": _tool_choice(fields.tool_choice, tools),
        "parallel_tool_calls": fields.parallel_tool_calls,
        "response_format": _response_format(fields.response_format),
    }
