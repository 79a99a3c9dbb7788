"""OpenAI clients on the embedded model (SmolLM2-135M through llama.cpp) via a real server:
length, tools and structured output through llama.cpp grammars, log probabilities.

The 135M model picks poorly; what these tests hold it to is the protocol: a ``length``
finish where the cap cut the reply, tool calls that parse against their schemas, JSON that
validates. Replies are kept short: the machine is shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.helpers import litellm_client
from tests.helpers.server import Server, start_server

MODEL = "SmolLM2-135M-Instruct.Q4_1"
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


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        tmp_path_factory.mktemp("llama"),
        {"TOKENWIRE_PROVIDER": "llama", "TOKENWIRE_MAX_TOKENS": "96"},
    )
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """LangChain's own HTTP client, closed after the test (its default one is shared and
    kept open for the life of the process)."""
    with httpx.Client(timeout=300) as client:
        yield client


def sdk(server: Server) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=server.token, max_retries=0, timeout=300
    )


def test_max_tokens_cuts_with_length(llama: Server) -> None:
    with sdk(llama) as client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Write a long story about a dragon."}],
            max_tokens=3,
        )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_required_tools_give_calls_that_parse_against_the_schema(llama: Server) -> None:
    with sdk(llama) as client:
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="required",
            parallel_tool_calls=False,
            temperature=0,
            stream=True,
        )
        chunks = list(stream)
    pieces = [c for chunk in chunks for c in chunk.choices[0].delta.tool_calls or ()]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    [call] = pieces
    assert call.index == 0
    assert call.id is not None
    assert call.function is not None
    assert call.function.name == "get_weather"
    jsonschema.validate(
        json.loads(call.function.arguments or ""), WEATHER["function"]["parameters"]
    )


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 20},
        "sunny": {"type": "boolean"},
    },
    "required": ["city", "sunny"],
    "additionalProperties": False,
}


def test_json_schema_output_validates_and_logprobs_come_with_it(llama: Server) -> None:
    with sdk(llama) as client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Is it sunny in Rome?"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True},
            },
            logprobs=True,
            top_logprobs=2,
            temperature=0,
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    jsonschema.validate(json.loads(choice.message.content or ""), SCHEMA)
    assert choice.logprobs is not None
    tokens = choice.logprobs.content or []
    assert "".join(t.token for t in tokens) == choice.message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in tokens)


class Weather(BaseModel):
    city: str = Field(max_length=20)
    sunny: bool


def test_langchain_structured_output(llama: Server, http: httpx.Client) -> None:
    llm = ChatOpenAI(
        model=MODEL,
        base_url=f"{llama.url}/v1",
        api_key=llama.token,
        max_retries=0,
        temperature=0,
        http_client=http,
    )
    answer = llm.with_structured_output(Weather).invoke("Is it sunny in Oslo?")
    assert isinstance(answer, Weather)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_langchain_bind_tools_round_trip(llama: Server, http: httpx.Client) -> None:
    llm = ChatOpenAI(
        model=MODEL,
        base_url=f"{llama.url}/v1",
        api_key=llama.token,
        max_retries=0,
        temperature=0,
        max_completion_tokens=48,
        http_client=http,
    )
    messages: list[Any] = [HumanMessage("What is the weather in Paris?")]
    asked = llm.bind_tools([get_weather], tool_choice="get_weather").invoke(messages)
    assert isinstance(asked, AIMessage)
    [call] = asked.tool_calls
    assert call["name"] == "get_weather"
    assert isinstance(call["args"]["city"], str)
    result = get_weather.invoke(call["args"])
    messages += [asked, ToolMessage(result, tool_call_id=call["id"])]
    # With the result in, the model may answer or call again: either is a valid reply.
    answered = llm.bind_tools([get_weather]).invoke(messages)
    assert isinstance(answered, AIMessage)
    assert answered.content or answered.tool_calls
    for again in answered.tool_calls:
        assert again["name"] == "get_weather"


def test_litellm_as_a_client(llama: Server) -> None:
    response = litellm_client.completion(
        model=f"openai/{MODEL}",
        api_base=f"{llama.url}/v1",
        api_key=llama.token,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=4,
        stop=["\n"],
    )
    assert response["choices"][0]["finish_reason"] in ("stop", "length")
    assert response["usage"]["completion_tokens"] <= 4


def test_a_schema_no_grammar_can_express_is_a_400_before_anything_is_stored(
    llama: Server,
) -> None:
    with sdk(llama) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "A unique question about a schema"}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "(["}},
            },
        )
    assert caught.value.param == "response_format"
    assert caught.value.code == "invalid_schema"
    with llama.client() as http:
        conversations = http.get("/api/v1/conversations").json()["items"]
    titles = [c["title"] for c in conversations]
    assert "A unique question about a schema" not in titles
