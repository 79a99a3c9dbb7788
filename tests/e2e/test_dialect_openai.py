"""OpenAI Chat Completions against a real server, with the official ``openai`` SDK."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.helpers.server import Server


def sdk(server: Server, api_key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=api_key or server.token, max_retries=0
    )


def test_streaming_with_usage(server: Server) -> None:
    with sdk(server) as client:
        stream = client.chat.completions.create(
            model="scripted",
            messages=[{"role": "user", "content": "Say hello to the whole world"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
    first, *middle, finish, usage = chunks
    assert first.choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-")
    text = "".join(c.choices[0].delta.content or "" for c in middle)
    assert text == "Say hello to the whole world"
    assert finish.choices[0].finish_reason == "stop"
    assert usage.choices == []
    assert usage.usage is not None
    assert usage.usage.completion_tokens > 0
    assert usage.usage.total_tokens == usage.usage.prompt_tokens + usage.usage.completion_tokens


def test_streaming_without_usage_has_no_usage_key(server: Server) -> None:
    with (
        server.client() as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            json={
                "model": "scripted",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        ) as response,
    ):
        body = response.read().decode()
    assert '"usage"' not in body
    assert body.endswith("data: [DONE]\n\n")


def test_non_streaming_completion(server: Server) -> None:
    with sdk(server) as client:
        completion = client.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "A whole answer"}]
        )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "A whole answer"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.model == "scripted"


def test_models(server: Server) -> None:
    with sdk(server) as client:
        assert [m.id for m in client.models.list()] == ["scripted"]
        assert client.models.retrieve("scripted").owned_by == "tokenwire"
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-nothing")


def test_errors_are_openai_errors(server: Server) -> None:
    with sdk(server, api_key="wrong") as stranger, pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(
            model="scripted", messages=[{"role": "user", "content": "x"}]
        )
    with sdk(server) as client, pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="scripted", messages=[{"role": "assistant", "content": "no user"}]
        )
    assert "last message" in str(info.value)
    raw = httpx.post(
        f"{server.url}/v1/chat/completions", headers=server.headers(), content=b"{broken"
    )
    assert raw.status_code == 400
    assert raw.json()["error"]["type"] == "invalid_request_error"


def test_history_is_stored_and_a_follow_up_continues_the_conversation(server: Server) -> None:
    messages: list[dict[str, str]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Earlier question"},
        {"role": "assistant", "content": "Earlier answer"},
        {"role": "user", "content": "Follow-up question"},
    ]
    with sdk(server) as client:
        first = client.chat.completions.create(model="scripted", messages=messages)  # type: ignore[arg-type]
        reply = first.choices[0].message.content or ""
        messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": "Third"}]
        second = client.chat.completions.create(model="scripted", messages=messages)  # type: ignore[arg-type]
    assert second.choices[0].message.content == "Third"
    first_id = first.id.removeprefix("chatcmpl-")
    second_id = second.id.removeprefix("chatcmpl-")
    with server.client() as http:
        one = http.get(f"/api/v1/messages/{first_id}").json()
        two = http.get(f"/api/v1/messages/{second_id}").json()
        assert one["conversation_id"] == two["conversation_id"]
        history = http.get(f"/api/v1/conversations/{one['conversation_id']}/messages").json()
        conversation = http.get(f"/api/v1/conversations/{one['conversation_id']}").json()
    contents = [m["content"] for m in history["items"]]
    assert contents == [
        "Earlier question",
        "Earlier answer",
        "Follow-up question",
        "Follow-up question",
        "Third",
        "Third",
    ]
    assert conversation["metadata"]["system"] == "Be brief."
