"""OpenAI clients (the ``openai`` SDK, ``langchain-openai``, LiteLLM) through tokenwire to an
in-test OpenAI-compatible upstream: every option reaches it unchanged, tool calls come back
exactly as it streams them, and an agent loop's tool round trip continues one conversation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from tests.helpers import litellm_client
from tests.helpers.server import Server
from tests.providers.served import ServerFactory, openai_server
from tests.providers.upstream import Reply, Upstream, UpstreamThread

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PIECES = [
    {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    },
    {"index": 0, "function": {"arguments": '{"city": '}},
    {"index": 0, "function": {"arguments": '"Paris"}'}},
]
CALLS = Reply(deltas=[], tool_calls=PIECES, finish_reason="tool_calls")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with UpstreamThread() as up:
        yield up


@pytest.fixture
def served(server_factory: ServerFactory, upstream: Upstream) -> Server:
    return openai_server(server_factory, upstream)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """LangChain's own HTTP client, closed after the test (its default one is shared and
    kept open for the life of the process)."""
    with httpx.Client(timeout=300) as client:
        yield client


def sdk(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.token, max_retries=0)


def test_every_option_reaches_the_upstream_unchanged(served: Server, upstream: Upstream) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    with sdk(served) as client:
        client.chat.completions.create(
            model="up-model",
            messages=[{"role": "user", "content": "Hi"}],
            max_completion_tokens=20,
            stop=["END"],
            temperature=0.5,
            top_p=0.75,
            seed=11,
            presence_penalty=0.5,
            frequency_penalty=0.25,
            logit_bias={"15": -50},
            logprobs=True,
            top_logprobs=2,
            user="alice",
            safety_identifier="h-1",
            prompt_cache_key="pk",
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice="required",
            parallel_tool_calls=False,
            response_format=fmt,  # type: ignore[arg-type]
        )
    body = upstream.requests[0]
    sent = {k: v for k, v in body.items() if k not in ("messages", "stream", "stream_options")}
    assert sent == {
        "model": "up-model",
        "max_tokens": 20,
        "stop": ["END"],
        "temperature": 0.5,
        "top_p": 0.75,
        "seed": 11,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "logit_bias": {"15": -50.0},
        "logprobs": True,
        "top_logprobs": 2,
        "user": "alice",
        "safety_identifier": "h-1",
        "prompt_cache_key": "pk",
        "tools": [WEATHER],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "response_format": fmt,
    }


def test_tool_calls_stream_back_exactly_as_the_upstream_cut_them(
    served: Server, upstream: Upstream
) -> None:
    upstream.replies = [CALLS]
    with sdk(served) as client:
        stream = client.chat.completions.create(
            model="up-model",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
            stream=True,
        )
        chunks = list(stream)
    pieces = [
        call.model_dump(exclude_none=True)
        for chunk in chunks
        for call in chunk.choices[0].delta.tool_calls or ()
    ]
    assert pieces == PIECES
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_non_streamed_reply_carries_the_whole_calls(served: Server, upstream: Upstream) -> None:
    upstream.replies = [CALLS]
    with sdk(served) as client:
        completion = client.chat.completions.create(
            model="up-model",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.id == "call_a"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert call.function.arguments == '{"city": "Paris"}'  # type: ignore[union-attr]


def test_logprobs_pass_through(served: Server, upstream: Upstream) -> None:
    logprobs = {
        "content": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}]
    }
    upstream.replies = [Reply(deltas=["Hi"], logprobs=[logprobs])]
    with sdk(served) as client:
        completion = client.chat.completions.create(
            model="up-model", messages=[{"role": "user", "content": "Hi"}], logprobs=True
        )
    assert completion.choices[0].logprobs is not None
    [token] = completion.choices[0].logprobs.content or []
    assert (token.token, token.logprob, token.bytes) == ("Hi", -0.5, [72, 105])


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_langchain_bind_tools_round_trip(
    served: Server, upstream: Upstream, http: httpx.Client
) -> None:
    upstream.replies = [CALLS, Reply(deltas=["It is sunny in Paris."])]
    llm = ChatOpenAI(
        model="up-model",
        base_url=f"{served.url}/v1",
        api_key=served.token,
        max_retries=0,
        http_client=http,
    )
    agent = llm.bind_tools([get_weather])
    messages: list[Any] = [HumanMessage("What is the weather in Paris?")]
    asked = agent.invoke(messages)
    assert asked.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_a", "type": "tool_call"}
    ]
    messages += [asked, ToolMessage(get_weather.invoke({"city": "Paris"}), tool_call_id="call_a")]
    answered = agent.invoke(messages)
    assert answered.content == "It is sunny in Paris."
    # The upstream saw the call and its result as OpenAI messages.
    assert upstream.requests[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny in Paris"},
    ]
    # Both turns are one conversation, the call and its result stored as their own messages.
    first = asked.response_metadata["id"].removeprefix("chatcmpl-")
    second = answered.response_metadata["id"].removeprefix("chatcmpl-")
    with served.client() as http:
        one = http.get(f"/api/v1/messages/{first}").json()
        two = http.get(f"/api/v1/messages/{second}").json()
        assert one["conversation_id"] == two["conversation_id"]
        items = http.get(f"/api/v1/conversations/{one['conversation_id']}/messages").json()
    roles = [(m["role"], m["content"]) for m in items["items"]]
    assert roles == [
        ("user", "What is the weather in Paris?"),
        ("assistant", ""),
        ("tool", "sunny in Paris"),
        ("assistant", "It is sunny in Paris."),
    ]
    assert items["items"][1]["metadata"]["tool_calls"][0]["name"] == "get_weather"


class Person(BaseModel):
    name: str
    age: int


def test_langchain_structured_output(
    served: Server, upstream: Upstream, http: httpx.Client
) -> None:
    upstream.replies = [Reply(deltas=['{"name": "Ada",', ' "age": 36}'])]
    llm = ChatOpenAI(
        model="up-model",
        base_url=f"{served.url}/v1",
        api_key=served.token,
        max_retries=0,
        http_client=http,
    )
    person = llm.with_structured_output(Person).invoke("Invent a person.")
    assert person == Person(name="Ada", age=36)
    fmt = upstream.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["name", "age"]


# LiteLLM's own types trip a pydantic warning of theirs when it builds them.
def test_litellm_as_a_client(served: Server, upstream: Upstream) -> None:
    upstream.replies = [CALLS]
    response = litellm_client.completion(
        model="openai/up-model",
        api_base=f"{served.url}/v1",
        api_key=served.token,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        max_tokens=30,
    )
    [call] = response["choices"][0]["message"]["tool_calls"]
    assert (call["id"], call["function"]["name"]) == ("call_a", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert upstream.requests[0]["max_tokens"] == 30


def test_an_upstream_refusal_is_not_answered_as_success(served: Server, upstream: Upstream) -> None:
    upstream.replies = [Reply(status=400, body=b'{"error": {"message": "no tools here"}}')]
    response = httpx.post(
        f"{served.url}/v1/chat/completions",
        headers=served.headers(),
        json={
            "model": "up-model",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER],
        },
        timeout=30,
    )
    assert response.status_code == 502
    assert "no tools here" in response.json()["error"]["message"]


def test_parallel_tool_results_continue_the_conversation(
    served: Server, upstream: Upstream
) -> None:
    two = [
        *PIECES,
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
        },
    ]
    upstream.replies = [
        Reply(deltas=[], tool_calls=two, finish_reason="tool_calls"),
        Reply(deltas=["Sunny in both."]),
    ]
    question = {"role": "user", "content": "Weather in Paris and Rome?"}
    with sdk(served) as client:
        asked = client.chat.completions.create(
            model="up-model",
            messages=[question],  # type: ignore[list-item]
            tools=[WEATHER],  # type: ignore[list-item]
        )
        calls = asked.choices[0].message.tool_calls or []
        assert [c.id for c in calls] == ["call_a", "call_b"]
        answered = client.chat.completions.create(
            model="up-model",
            messages=[
                question,  # type: ignore[list-item]
                asked.choices[0].message.model_dump(exclude_none=True),  # type: ignore[list-item]
                {"role": "tool", "tool_call_id": "call_a", "content": "sunny in Paris"},
                {"role": "tool", "tool_call_id": "call_b", "content": "sunny in Rome"},
            ],
            tools=[WEATHER],  # type: ignore[list-item]
        )
    assert answered.choices[0].message.content == "Sunny in both."
    assert [m["role"] for m in upstream.requests[1]["messages"]] == [
        "user",
        "assistant",
        "tool",
        "tool",
    ]
    with served.client() as http:
        one = http.get(f"/api/v1/messages/{asked.id.removeprefix('chatcmpl-')}").json()
        two_ = http.get(f"/api/v1/messages/{answered.id.removeprefix('chatcmpl-')}").json()
        assert one["conversation_id"] == two_["conversation_id"]
