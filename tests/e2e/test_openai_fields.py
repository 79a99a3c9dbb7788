"""OpenAI request fields over a real server with the scripted model: honoured, or refused
with OpenAI's error shape naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ServerFactory
from tests.helpers.server import Server

HI = [{"role": "user", "content": "one two three four five six"}]


def sdk(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.token, max_retries=0)


def post(server: Server, **body: Any) -> httpx.Response:
    payload = {"model": "scripted", "messages": HI, **body}
    return httpx.post(
        f"{server.url}/v1/chat/completions", headers=server.headers(), json=payload, timeout=30
    )


def test_max_tokens_cuts_the_reply_with_length(server: Server) -> None:
    with sdk(server) as client:
        whole = client.chat.completions.create(model="scripted", messages=HI, max_tokens=1)  # type: ignore[arg-type]
        streamed = client.chat.completions.create(
            model="scripted",
            messages=HI,  # type: ignore[arg-type]
            max_completion_tokens=1,
            stream=True,
        )
        chunks = list(streamed)
    # The scripted model counts chunks of 3 words as its tokens.
    assert whole.choices[0].message.content == "one two three"
    assert whole.choices[0].finish_reason == "length"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two three"
    assert chunks[-1].choices[0].finish_reason == "length"


def test_stop_ends_the_reply_without_the_stop_text(server: Server) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(
            model="scripted",
            messages=HI,  # type: ignore[arg-type]
            stop=[" four"],
        )
    assert completion.choices[0].message.content == "one two three"
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"temperature": 5}, "temperature", "invalid_value"),
        ({"top_p": -1}, "top_p", "invalid_value"),
        ({"n": 2}, "n", "invalid_value"),
        ({"logprobs": True, "top_logprobs": 30}, "top_logprobs", "invalid_value"),
        ({"reasoning_effort": "high"}, "reasoning_effort", "unsupported_parameter"),
        ({"top_k": 3}, "top_k", "unknown_parameter"),
        # What the scripted model cannot do, refused before anything is stored:
        (
            {"tools": [{"type": "function", "function": {"name": "f"}}]},
            "tools",
            "tools_unsupported",
        ),
        ({"logprobs": True}, "logprobs", "logprobs_unsupported"),
        (
            {"response_format": {"type": "json_object"}},
            "response_format",
            "response_format_unsupported",
        ),
    ],
)
def test_a_refused_field_is_a_400_naming_it(
    server: Server, body: dict[str, Any], param: str, code: str
) -> None:
    response = post(server, **body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_the_sdk_raises_the_400_with_its_param(server: Server) -> None:
    with sdk(server) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="scripted", messages=HI, temperature=5)  # type: ignore[arg-type]
    assert caught.value.param == "temperature"


def test_an_unknown_model_is_404_model_not_found(server: Server) -> None:
    response = post(server, model="gpt-nothing")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "The model 'gpt-nothing' does not exist",
        "type": "not_found_error",
        "param": "model",
        "code": "model_not_found",
    }
    with sdk(server) as client, pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-nothing", messages=HI)  # type: ignore[arg-type]


def test_an_empty_tool_result_is_a_turn_of_its_own(server: Server) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    response = post(
        server,
        messages=[
            {"role": "user", "content": "Run f"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": ""},
        ],
    )
    assert response.status_code == 200, response.text
    reply_id = response.json()["id"].removeprefix("chatcmpl-")
    with server.client() as http:
        reply = http.get(f"/api/v1/messages/{reply_id}").json()
        items = http.get(f"/api/v1/conversations/{reply['conversation_id']}/messages").json()
    assert [(m["role"], m["content"]) for m in items["items"]] == [
        ("user", "Run f"),
        ("assistant", ""),
        ("tool", ""),
        ("assistant", "Run f"),  # the scripted model echoes the last user message
    ]
    assert items["items"][1]["metadata"]["tool_calls"] == [
        {"id": "call_1", "name": "f", "arguments": "{}"}
    ]


def test_legacy_text_completions_are_not_served(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/v1/completions",
        headers=server.headers(),
        json={"model": "scripted", "prompt": "Once upon a time"},
        timeout=30,
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("not_found_error", "unsupported_endpoint")
    assert "/v1/chat/completions" in error["message"]


def test_the_server_cap_bounds_max_tokens(server_factory: ServerFactory) -> None:
    capped = server_factory(max_tokens=1, scripted_delay_ms=0)
    with sdk(capped) as client:
        completion = client.chat.completions.create(
            model="scripted",
            messages=HI,  # type: ignore[arg-type]
            max_completion_tokens=100,
        )
    assert completion.choices[0].message.content == "one two three"
    assert completion.choices[0].finish_reason == "length"
