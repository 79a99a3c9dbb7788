"""The embedded model honours a request's options: length, stop, seed, penalties, bias,
log probabilities, response formats and tools (through llama.cpp grammars)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.providers.conftest import Reference
from tokenwire.protocol.options import Sampling
from tokenwire.providers import ChatTurn, Delta, Done, GenerationRequest, StreamItem
from tokenwire.providers.base import ToolCallDelta
from tokenwire.providers.llama import LlamaProvider

pytestmark = pytest.mark.anyio

COUNT = [ChatTurn("user", "Count from one to ten in words.")]


async def collect(provider: LlamaProvider, request: GenerationRequest) -> list[StreamItem]:
    return [item async for item in provider.stream(request)]


def text(items: list[StreamItem]) -> str:
    return "".join(i.text for i in items if isinstance(i, Delta))


def done(items: list[StreamItem]) -> Done:
    assert isinstance(items[-1], Done)
    return items[-1]


async def test_max_tokens_cuts_the_reply_with_length(llama: LlamaProvider) -> None:
    items = await collect(llama, GenerationRequest(COUNT, sampling=Sampling(max_tokens=3)))
    assert done(items).finish_reason == "length"
    assert done(items).completion_tokens == 3


async def test_a_stop_sequence_ends_the_reply_unsent(llama: LlamaProvider) -> None:
    greedy = Sampling(max_tokens=12, temperature=0.0)
    free = text(await collect(llama, GenerationRequest(COUNT, sampling=greedy)))
    assert "3" in free  # what the model says unstopped: "1. 1\n2. 2\n3. 3 ..."
    stopped = Sampling(max_tokens=12, temperature=0.0, stop=("3",))
    items = await collect(llama, GenerationRequest(COUNT, sampling=stopped))
    assert text(items) == free[: free.index("3")]
    assert done(items).finish_reason == "stop"


async def test_a_seed_makes_sampling_repeatable(llama: LlamaProvider) -> None:
    hot = Sampling(max_tokens=8, temperature=1.5, top_p=1.0, seed=7)
    first = text(await collect(llama, GenerationRequest(COUNT, sampling=hot)))
    second = text(await collect(llama, GenerationRequest(COUNT, sampling=hot)))
    assert first == second


async def test_logit_bias_forces_a_token(llama: LlamaProvider, reference: Reference) -> None:
    [comma] = reference.tokens(",")
    biased = Sampling(max_tokens=3, temperature=0.0, logit_bias={str(comma): 100.0})
    items = await collect(llama, GenerationRequest(COUNT, sampling=biased))
    assert text(items) == ",,,"


async def test_logprobs_come_with_each_token(llama: LlamaProvider) -> None:
    sampling = Sampling(max_tokens=3, temperature=0.0, logprobs=True, top_logprobs=2)
    items = await collect(llama, GenerationRequest(COUNT, sampling=sampling))
    logprobs = [p for i in items if isinstance(i, Delta) for p in i.logprobs]
    assert len(logprobs) == 3
    assert "".join(p.token for p in logprobs) == text(items)
    for p in logprobs:
        assert p.logprob <= 0.0
        assert bytes(p.bytes).decode() == p.token
        assert len(p.top_logprobs) == 2
        # Greedy decoding picks the most likely token, which heads the list.
        assert p.top_logprobs[0].token == p.token
        assert p.top_logprobs[0].logprob == pytest.approx(p.logprob)
        assert p.top_logprobs[1].logprob <= p.top_logprobs[0].logprob


PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


async def test_json_schema_output_parses_and_validates(llama: LlamaProvider) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}}
    request = GenerationRequest(
        [ChatTurn("user", "Invent a person.")],
        sampling=Sampling(max_tokens=48, temperature=0.8, seed=3),
        response_format=fmt,
    )
    items = await collect(llama, request)
    assert done(items).finish_reason == "stop"
    jsonschema.validate(json.loads(text(items)), PERSON)


async def test_json_object_output_is_an_object(llama: LlamaProvider) -> None:
    request = GenerationRequest(
        [ChatTurn("user", "Give me a JSON object with your name.")],
        sampling=Sampling(max_tokens=48, temperature=0.0),
        response_format={"type": "json_object"},
    )
    items = await collect(llama, request)
    assert done(items).finish_reason == "stop"
    assert isinstance(json.loads(text(items)), dict)


WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TIME: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
}


async def test_required_tools_give_valid_calls(llama: LlamaProvider) -> None:
    request = GenerationRequest(
        [ChatTurn("user", "What is the weather in Paris?")],
        sampling=Sampling(max_tokens=64, temperature=0.0),
        tools=(WEATHER, TIME),
        tool_choice="required",
        parallel_tool_calls=False,
    )
    items = await collect(llama, request)
    assert done(items).finish_reason == "tool_calls"
    calls = [i for i in items if isinstance(i, ToolCallDelta)]
    assert [c.index for c in calls] == [0]  # parallel_tool_calls false: one call
    assert not text(items)
    [call] = calls
    assert call.id is not None
    assert call.id.startswith("call_")
    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}
    assert call.name in schemas
    jsonschema.validate(json.loads(call.arguments), schemas[call.name])


async def test_a_named_tool_is_the_one_called(llama: LlamaProvider) -> None:
    request = GenerationRequest(
        [ChatTurn("user", "What time is it?")],
        sampling=Sampling(max_tokens=64, temperature=0.0),
        tools=(WEATHER, TIME),
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    items = await collect(llama, request)
    calls = [i for i in items if isinstance(i, ToolCallDelta)]
    assert calls
    assert {c.name for c in calls} == {"get_weather"}
    for call in calls:
        jsonschema.validate(json.loads(call.arguments), WEATHER["function"]["parameters"])


async def test_auto_tools_give_text_or_valid_calls(llama: LlamaProvider) -> None:
    for question in ("What is the weather in Paris?", "Say hello."):
        request = GenerationRequest(
            [ChatTurn("user", question)],
            sampling=Sampling(max_tokens=48, temperature=0.0),
            tools=(WEATHER,),
        )
        items = await collect(llama, request)
        calls = [i for i in items if isinstance(i, ToolCallDelta)]
        if calls:
            assert done(items).finish_reason == "tool_calls"
            assert not text(items)
            for call in calls:
                assert call.name == "get_weather"
                jsonschema.validate(json.loads(call.arguments), WEATHER["function"]["parameters"])
        else:
            # Plain text, which the grammar keeps from opening a JSON array.
            assert text(items)
            assert not text(items).startswith("[")
