"""OpenAI Chat Completions: chunks, usage, ``[DONE]``, completion object, request parsing."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import MID, failed, reply
from tokenwire.errors import BadRequest
from tokenwire.protocol.dialects.openai_chat import (
    ChatCompletionChunkEncoder,
    completion,
    error_body,
    model_list,
    parse_request,
)
from tokenwire.protocol.dialects.turns import PriorTurn

HEAD = (
    b'{"id":"chatcmpl-%s","object":"chat.completion.chunk","created":1738144800,"model":"m",'
    % MID.encode()
)


def test_stream_chunks_and_done() -> None:
    encoder = ChatCompletionChunkEncoder("m")
    body = b"".join(encoder.encode(e) for e in reply("Hel", "lo", queued=True))
    assert body == (
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
        b'"logprobs":null,"finish_reason":null}]}\n\n'
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"content":"Hel"},'
        b'"logprobs":null,"finish_reason":null}]}\n\n'
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"content":"lo"},'
        b'"logprobs":null,"finish_reason":null}]}\n\n'
        b"data: "
        + HEAD
        + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )


def test_include_usage_adds_null_usage_and_a_usage_chunk() -> None:
    encoder = ChatCompletionChunkEncoder("m", include_usage=True)
    frames = [encoder.encode(e) for e in reply("Hi")]
    assert frames[1] == (
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"content":"Hi"},'
        b'"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    )
    assert frames[2] == (
        b"data: "
        + HEAD
        + b'"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
        b'"usage":null}\n\n'
        b"data: "
        + HEAD
        + b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n'
        b"data: [DONE]\n\n"
    )


def test_cancelled_maps_to_stop_and_length_stays() -> None:
    encoder = ChatCompletionChunkEncoder("m")
    assert b'"finish_reason":"stop"' in encoder.encode(reply("a", finish="cancelled")[-1])
    assert b'"finish_reason":"length"' in encoder.encode(reply("a", finish="length")[-1])


def test_an_error_mid_stream_is_an_error_object_the_sdk_raises() -> None:
    encoder = ChatCompletionChunkEncoder("m")
    frames = [encoder.encode(e) for e in failed("x")]
    assert frames[-1] == (
        b'data: {"error":{"message":"the model is unavailable","type":"server_error",'
        b'"param":null,"code":"provider_error"}}\n\n'
        b"data: [DONE]\n\n"
    )


def test_completion_object() -> None:
    body = completion(
        message_id=MID,
        created=1738144800,
        model="m",
        content="Hello",
        finish="stop",
        prompt_tokens=3,
        completion_tokens=1,
    )
    assert body == (
        b'{"id":"chatcmpl-%s","object":"chat.completion","created":1738144800,"model":"m",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},'
        b'"logprobs":null,"finish_reason":"stop"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}' % MID.encode()
    )


def test_models_and_errors() -> None:
    assert model_list(["scripted"]) == (
        b'{"object":"list","data":[{"id":"scripted","object":"model","created":0,"owned_by":"tokenwire"}]}'
    )
    assert error_body("no", status=401, code="invalid_api_key") == (
        b'{"error":{"message":"no","type":"authentication_error","param":null,"code":"invalid_api_key"}}'
    )


def test_request_with_history_system_and_image() -> None:
    body = msgspec.json.encode(
        {
            "model": "scripted",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello!"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                },
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.2,
            "top_p": 1,
        }
    )
    call = parse_request(body)
    assert call.prompt == "What is this?"
    assert call.images == ("data:image/png;base64,AAAA",)
    assert call.history == (PriorTurn("user", "Hi"), PriorTurn("assistant", "Hello!"))
    assert call.system == "Be brief."
    assert call.stream
    assert call.include_usage
    assert call.temperature == 0.2


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"model": "m"}',
        b'{"model": "m", "messages": []}',
        b'{"model": "m", "messages": [{"role": "assistant", "content": "x"}]}',
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}',
        b'{"model": "m", "messages": [{"role": "robot", "content": "x"}]}',
    ],
)
def test_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_request(body)
