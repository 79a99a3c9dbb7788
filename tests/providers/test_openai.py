"""The OpenAI-compatible provider against a real HTTP upstream on a free port."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from pathlib import Path

import pytest

from tests.providers.conftest import eventually
from tests.providers.upstream import Reply, Upstream
from tokenwire.errors import ProviderError
from tokenwire.protocol.options import Sampling
from tokenwire.providers import ChatTurn, Delta, Done, GenerationRequest, StreamItem
from tokenwire.providers.base import TokenLogprob, ToolCall, ToolCallDelta, TopLogprob
from tokenwire.providers.openai import OpenAIProvider

pytestmark = pytest.mark.anyio

QUESTION = GenerationRequest([ChatTurn("system", "Be brief."), ChatTurn("user", "Hi?")])


def provider(url: str, **options: object) -> OpenAIProvider:
    return OpenAIProvider(base_url=url, model="up-model", api_key="sk-test", **options)  # type: ignore[arg-type]


async def collect(p: OpenAIProvider, request: GenerationRequest = QUESTION) -> list[StreamItem]:
    try:
        return [item async for item in p.stream(request)]
    finally:
        await p.aclose()


async def failure(reply: Reply, **options: object) -> ProviderError:
    async with Upstream(reply) as upstream:
        with pytest.raises(ProviderError) as caught:
            await collect(provider(upstream.url, **options))
    return caught.value


async def test_streams_deltas_and_usage() -> None:
    async with Upstream(Reply(deltas=["Hel", "lo", " you"])) as upstream:
        items = await collect(provider(upstream.url))
    assert items == [Delta("Hel"), Delta("lo"), Delta(" you"), Done("stop", 11, 3)]
    [body] = upstream.requests
    assert body["model"] == "up-model"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
    ]
    assert upstream.headers[0]["authorization"] == "Bearer sk-test"


async def test_length_finish_reason_and_request_options() -> None:
    request = GenerationRequest(
        [ChatTurn("user", "Hi?")], model="other", sampling=Sampling(temperature=0.4, max_tokens=2)
    )
    async with Upstream(Reply(deltas=["a", "b"], finish_reason="length")) as upstream:
        items = await collect(provider(upstream.url), request)
    assert items[-1] == Done("length", 11, 2)
    body = upstream.requests[0]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("other", 0.4, 2)


async def test_prefix_is_sent_as_the_start_of_the_assistant_turn() -> None:
    request = GenerationRequest([ChatTurn("user", "Count")], prefix="One, two,")
    async with Upstream() as upstream:
        await collect(provider(upstream.url), request)
    assert upstream.requests[0]["messages"][-1] == {"role": "assistant", "content": "One, two,"}


async def test_images_go_as_image_url_parts() -> None:
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    request = GenerationRequest([ChatTurn("user", "What is this?", (url,))])
    async with Upstream() as upstream:
        await collect(provider(upstream.url), request)
    assert upstream.requests[0]["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


async def test_cancel_closes_the_upstream_connection() -> None:
    slow = Reply(deltas=[f" w{i}" for i in range(200)], delay=0.05)
    async with Upstream(slow) as upstream:
        p = provider(upstream.url)
        received: list[StreamItem] = []

        async def consume() -> None:
            async for item in p.stream(QUESTION):
                received.append(item)

        task = asyncio.create_task(consume())
        await eventually(lambda: len(received) >= 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The upstream sees its client go away while it still had ~198 deltas to send.
        await asyncio.wait_for(upstream.disconnected.wait(), 30)
        assert upstream.disconnects == 1
        await p.aclose()


async def test_connect_error_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port any more.
    with pytest.raises(ProviderError) as caught:
        await collect(provider(f"http://127.0.0.1:{port}/v1"))
    assert caught.value.code == "upstream_unreachable"
    assert caught.value.retryable
    assert f"127.0.0.1:{port}" in caught.value.message
    assert isinstance(caught.value.__cause__, Exception)


async def test_timeout_is_retryable_and_the_upstream_sees_the_drop() -> None:
    async with Upstream(Reply(hang=True)) as upstream:
        with pytest.raises(ProviderError) as caught:
            await collect(provider(upstream.url, timeout_s=0.3))
        await asyncio.wait_for(upstream.disconnected.wait(), 30)
    assert caught.value.code == "upstream_timeout"
    assert caught.value.retryable


async def test_slow_chunks_time_out_between_chunks() -> None:
    error = await failure(Reply(deltas=["a", "b"], delay=0.6), timeout_s=0.3)
    assert (error.code, error.retryable) == ("upstream_timeout", True)


async def test_a_body_longer_than_the_timeout_with_steady_chunks_is_read_whole() -> None:
    # The timeout is the wait between two pieces, not for the whole body: 3 s of chunks, each
    # 0.25 s after the last, against a 2 s timeout.
    deltas = [f"w{i} " for i in range(12)]
    async with Upstream(Reply(deltas=deltas, delay=0.25)) as upstream:
        items = await collect(provider(upstream.url, timeout_s=2.0))
    assert "".join(i.text for i in items if isinstance(i, Delta)) == "".join(deltas)


async def test_a_caller_slower_than_the_timeout_does_not_time_the_upstream_out() -> None:
    # The upstream sends everything at once; the caller takes 0.6 s over each item, four
    # times the timeout in all. Only waiting on the upstream counts.
    deltas = ["a", "b", "c", "d"]
    async with Upstream(Reply(deltas=deltas)) as upstream:
        p = provider(upstream.url, timeout_s=0.5)
        read: list[StreamItem] = []
        try:
            async for item in p.stream(QUESTION):
                read.append(item)
                await asyncio.sleep(0.6)
        finally:
            await p.aclose()
    assert [i.text for i in read if isinstance(i, Delta)] == deltas


async def test_429_is_retryable_with_retry_after() -> None:
    body = json.dumps({"error": {"message": "Rate limit reached"}}).encode()
    error = await failure(Reply(status=429, body=body, headers={"Retry-After": "12"}))
    assert (error.code, error.retryable, error.retry_after) == ("upstream_rate_limited", True, 12)
    assert "Rate limit reached" in error.message
    assert "429" in error.message


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_retryable(status: int) -> None:
    error = await failure(Reply(status=status, body=b"upstream overloaded"))
    assert (error.code, error.retryable) == ("upstream_unavailable", True)
    assert str(status) in error.message
    assert "upstream overloaded" in error.message


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_is_not_retryable(status: int) -> None:
    body = json.dumps({"error": {"message": "model not found"}}).encode()
    error = await failure(Reply(status=status, body=body))
    assert (error.code, error.retryable) == ("upstream_rejected", False)
    assert "model not found" in error.message


async def test_malformed_chunk_is_not_retryable() -> None:
    error = await failure(Reply(raw=[b'data: {"choices": [{"delta": \n\n']))
    assert (error.code, error.retryable) == ("upstream_malformed", False)


async def test_chunk_of_the_wrong_shape_is_malformed() -> None:
    error = await failure(Reply(raw=[b'data: {"choices": "nope"}\n\n']))
    assert error.code == "upstream_malformed"


async def test_error_object_in_the_stream() -> None:
    frame = b'data: {"error": {"message": "overloaded mid-stream"}}\n\n'
    error = await failure(Reply(raw=[frame]))
    assert (error.code, error.retryable) == ("upstream_error", True)
    assert "overloaded mid-stream" in error.message


async def test_stream_ending_without_done_is_retryable() -> None:
    error = await failure(Reply(done=False))
    assert (error.code, error.retryable) == ("upstream_incomplete", True)
    assert "[DONE]" in error.message


async def test_connection_cut_mid_body_is_retryable_and_keeps_the_deltas() -> None:
    async with Upstream(Reply(deltas=["par", "tial"], cut=True)) as upstream:
        got: list[StreamItem] = []

        p = provider(upstream.url)

        async def consume() -> None:
            async for item in p.stream(QUESTION):
                got.append(item)

        with pytest.raises(ProviderError) as caught:
            await consume()
        await p.aclose()
    assert got == [Delta("par"), Delta("tial")]
    assert (caught.value.code, caught.value.retryable) == ("upstream_incomplete", True)


TOOLS = (
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    },
)


async def test_every_option_goes_to_the_upstream_unchanged() -> None:
    request = GenerationRequest(
        [ChatTurn("user", "Hi?")],
        sampling=Sampling(
            max_tokens=7,
            stop=("END", "\n\n"),
            temperature=0.3,
            top_p=0.5,
            seed=42,
            presence_penalty=0.1,
            frequency_penalty=-0.2,
            logit_bias={"50256": -100.0},
            logprobs=True,
            top_logprobs=3,
            user="alice",
        ),
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        response_format={"type": "json_object"},
    )
    async with Upstream() as upstream:
        await collect(provider(upstream.url, max_tokens=100), request)
    body = upstream.requests[0]
    del body["messages"]
    assert body == {
        "model": "up-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 7,
        "stop": ["END", "\n\n"],
        "temperature": 0.3,
        "top_p": 0.5,
        "seed": 42,
        "presence_penalty": 0.1,
        "frequency_penalty": -0.2,
        "logit_bias": {"50256": -100.0},
        "logprobs": True,
        "top_logprobs": 3,
        "user": "alice",
        "tools": list(TOOLS),
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
    }


async def test_the_configured_cap_bounds_max_tokens() -> None:
    request = GenerationRequest([ChatTurn("user", "Hi?")], sampling=Sampling(max_tokens=500))
    async with Upstream() as upstream:
        await collect(provider(upstream.url, max_tokens=100), request)
    assert upstream.requests[0]["max_tokens"] == 100


async def test_tool_call_pieces_come_back_as_the_upstream_cut_them() -> None:
    pieces = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "f", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": '{"ci'}},
        {"index": 0, "function": {"arguments": 'ty": "Paris"}'}},
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "g", "arguments": "{}"},
        },
    ]
    reply = Reply(deltas=[], tool_calls=pieces, finish_reason="tool_calls")
    async with Upstream(reply) as upstream:
        items = await collect(provider(upstream.url), GenerationRequest([ChatTurn("user", "x")]))
    assert items == [
        ToolCallDelta(0, "call_a", "f", ""),
        ToolCallDelta(0, None, None, '{"ci'),
        ToolCallDelta(0, None, None, 'ty": "Paris"}'),
        ToolCallDelta(1, "call_b", "g", "{}"),
        Done("tool_calls", 11, 4),
    ]


async def test_tool_history_goes_as_openai_messages() -> None:
    call = ToolCall("call_a", "get_weather", '{"city": "Paris"}')
    request = GenerationRequest(
        [
            ChatTurn("user", "Weather?"),
            ChatTurn("assistant", "", tool_calls=(call,)),
            ChatTurn("tool", "sunny", tool_call_id="call_a"),
        ]
    )
    async with Upstream() as upstream:
        await collect(provider(upstream.url), request)
    assert upstream.requests[0]["messages"] == [
        {"role": "user", "content": "Weather?"},
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
        {"role": "tool", "tool_call_id": "call_a", "content": "sunny"},
    ]


async def test_logprobs_come_back_with_their_text() -> None:
    logprobs = {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.5,
                "bytes": [72, 105],
                "top_logprobs": [{"token": "Hi", "logprob": -0.5, "bytes": [72, 105]}],
            }
        ]
    }
    reply = Reply(deltas=["Hi"], logprobs=[logprobs])
    async with Upstream(reply) as upstream:
        items = await collect(provider(upstream.url))
    top = (TopLogprob("Hi", -0.5, (72, 105)),)
    assert items[0] == Delta("Hi", (TokenLogprob("Hi", -0.5, (72, 105), top),))


def test_the_environment_proxy_is_read_once_per_provider(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``HTTP_PROXY`` / ``NO_PROXY`` and a ~/.netrc login decide the upstream's route, as
    aiohttp's ``trust_env`` would, but once: not in a thread on every request."""
    from tokenwire.providers.openai import _proxy_for

    netrc = tmp_path / "netrc"
    netrc.write_text("machine upstream.example login alice password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    through = _proxy_for("http://upstream.example/v1/chat/completions", login=True)
    assert str(through.url) == "http://proxy.example:3128"
    assert through.netrc is not None
    assert through.netrc.login == "alice"
    keyed = _proxy_for("http://upstream.example/v1/chat/completions", login=False)
    assert keyed.netrc is None  # an API key is sent: no netrc login replaces it
    direct = _proxy_for("http://127.0.0.1:8080/v1/chat/completions", login=True)
    assert direct.url is None
    assert direct.netrc is None
