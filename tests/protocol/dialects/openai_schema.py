"""Every request field of OpenAI's published chat completions schema, with what tokenwire
does with it: an effect on the parsed turn to check, or the 400 that names it.

The list is the openai-python SDK's ``CompletionCreateParams`` (generated from OpenAI's
OpenAPI spec); ``test_openai_request`` fails when the installed SDK knows a field this
list does not, so a new field cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tokenwire.protocol.dialects.openai_request import ChatCall

PUBLISHED = (
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "messages",
    "metadata",
    "modalities",
    "model",
    "moderation",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_options",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
)

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@dataclass(frozen=True)
class Honoured:
    """Sending ``fields`` (besides model and messages) has ``effect`` on the parsed call."""

    fields: dict[str, Any]
    effect: Callable[[ChatCall], bool]


@dataclass(frozen=True)
class Refused:
    """Sending ``fields`` is a 400 whose ``param`` is ``param``."""

    fields: dict[str, Any]
    param: str


def sampling(call: ChatCall) -> Any:
    return call.options.sampling


# For each published field: at least one case; refused values of honoured fields too.
CASES: dict[str, list[Honoured | Refused]] = {
    "audio": [Refused({"audio": {"voice": "alloy", "format": "wav"}}, "audio")],
    "frequency_penalty": [
        Honoured({"frequency_penalty": -1.5}, lambda c: sampling(c).frequency_penalty == -1.5),
        Refused({"frequency_penalty": 2.5}, "frequency_penalty"),
    ],
    "function_call": [Refused({"function_call": "auto"}, "function_call")],
    "functions": [Refused({"functions": [{"name": "f"}]}, "functions")],
    "logit_bias": [
        Honoured({"logit_bias": {"42": -100}}, lambda c: sampling(c).logit_bias == {"42": -100}),
        Refused({"logit_bias": {"42": 101}}, "logit_bias"),
        Refused({"logit_bias": {"hello": 1}}, "logit_bias"),
    ],
    "logprobs": [Honoured({"logprobs": True}, lambda c: sampling(c).logprobs is True)],
    "max_completion_tokens": [
        Honoured({"max_completion_tokens": 5}, lambda c: sampling(c).max_tokens == 5),
        Refused({"max_completion_tokens": 0}, "max_completion_tokens"),
    ],
    "max_tokens": [
        Honoured({"max_tokens": 3}, lambda c: sampling(c).max_tokens == 3),
        Honoured(
            {"max_tokens": 9, "max_completion_tokens": 4}, lambda c: sampling(c).max_tokens == 4
        ),
        Refused({"max_tokens": -1}, "max_tokens"),
    ],
    "messages": [
        Honoured({}, lambda c: c.prompt == "Hi"),
        Refused({"messages": []}, "messages"),
    ],
    "metadata": [
        Honoured({"metadata": {"k": "v"}}, lambda c: c.options.metadata == {"k": "v"}),
        Refused({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
    ],
    "modalities": [
        Honoured({"modalities": ["text"]}, lambda c: c.prompt == "Hi"),
        Refused({"modalities": ["text", "audio"]}, "modalities"),
    ],
    "model": [Honoured({"model": "other"}, lambda c: c.options.model == "other")],
    "moderation": [Refused({"moderation": {"mode": "x"}}, "moderation")],
    "n": [
        Honoured({"n": 1}, lambda c: c.prompt == "Hi"),
        Refused({"n": 2}, "n"),
        Refused({"n": 0}, "n"),
    ],
    "parallel_tool_calls": [
        Honoured(
            {"tools": [TOOL], "parallel_tool_calls": False},
            lambda c: c.options.parallel_tool_calls is False,
        ),
        Refused({"parallel_tool_calls": True}, "parallel_tool_calls"),
    ],
    "prediction": [Refused({"prediction": {"type": "content", "content": "x"}}, "prediction")],
    "presence_penalty": [
        Honoured({"presence_penalty": 2}, lambda c: sampling(c).presence_penalty == 2),
        Refused({"presence_penalty": -3}, "presence_penalty"),
    ],
    "prompt_cache_key": [
        Honoured({"prompt_cache_key": "k1"}, lambda c: sampling(c).prompt_cache_key == "k1")
    ],
    "prompt_cache_options": [Refused({"prompt_cache_options": {}}, "prompt_cache_options")],
    "prompt_cache_retention": [
        Refused({"prompt_cache_retention": "24h"}, "prompt_cache_retention")
    ],
    "reasoning_effort": [Refused({"reasoning_effort": "low"}, "reasoning_effort")],
    "response_format": [
        Honoured(
            {"response_format": {"type": "json_object"}},
            lambda c: c.options.response_format == {"type": "json_object"},
        ),
        Honoured(
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "p", "schema": {"type": "object"}, "strict": True},
                }
            },
            lambda c: (c.options.response_format or {}).get("type") == "json_schema",
        ),
        Refused({"response_format": {"type": "yaml"}}, "response_format.type"),
        Refused({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ],
    "safety_identifier": [
        Honoured({"safety_identifier": "h1"}, lambda c: sampling(c).safety_identifier == "h1")
    ],
    "seed": [
        Honoured({"seed": 7}, lambda c: sampling(c).seed == 7),
        Refused({"seed": "seven"}, "seed"),
    ],
    "service_tier": [
        Honoured({"service_tier": "auto"}, lambda c: c.prompt == "Hi"),
        Refused({"service_tier": "flex"}, "service_tier"),
    ],
    "stop": [
        Honoured({"stop": "END"}, lambda c: sampling(c).stop == ("END",)),
        Honoured({"stop": ["a", "b"]}, lambda c: sampling(c).stop == ("a", "b")),
        Refused({"stop": ["1", "2", "3", "4", "5"]}, "stop"),
    ],
    "store": [
        Honoured({"store": True}, lambda c: c.prompt == "Hi"),
        Refused({"store": False}, "store"),
    ],
    "stream": [Honoured({"stream": True}, lambda c: c.stream)],
    "stream_options": [
        Honoured(
            {"stream": True, "stream_options": {"include_usage": True}},
            lambda c: c.include_usage,
        ),
        Refused({"stream_options": {"include_usage": True}}, "stream_options"),
        Refused(
            {"stream": True, "stream_options": {"include_obfuscation": True}},
            "stream_options.include_obfuscation",
        ),
    ],
    "temperature": [
        Honoured({"temperature": 0}, lambda c: sampling(c).temperature == 0),
        Refused({"temperature": 5}, "temperature"),
    ],
    "tool_choice": [
        Honoured(
            {"tools": [TOOL], "tool_choice": "required"},
            lambda c: c.options.tool_choice == "required",
        ),
        Honoured({"tools": [TOOL]}, lambda c: c.options.tool_choice == "auto"),
        Refused({"tool_choice": "auto"}, "tool_choice"),
        Refused(
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}},
            "tool_choice",
        ),
    ],
    "tools": [
        Honoured({"tools": [TOOL]}, lambda c: c.options.tools == (TOOL,)),
        Refused({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        Refused(
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
        ),
    ],
    "top_logprobs": [
        Honoured({"logprobs": True, "top_logprobs": 20}, lambda c: sampling(c).top_logprobs == 20),
        Refused({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        Refused({"top_logprobs": 2}, "top_logprobs"),
    ],
    "top_p": [
        Honoured({"top_p": 0.5}, lambda c: sampling(c).top_p == 0.5),
        Refused({"top_p": 1.5}, "top_p"),
    ],
    "user": [Honoured({"user": "u-1"}, lambda c: sampling(c).user == "u-1")],
    "verbosity": [Refused({"verbosity": "low"}, "verbosity")],
    "web_search_options": [Refused({"web_search_options": {}}, "web_search_options")],
}
