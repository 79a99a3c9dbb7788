"""OpenAI Chat Completions: chunks, usage, ``[DONE]``, completion object, request parsing."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import MID, failed, reply
from tokenwire.errors import BadRequest, NotFound, Unauthorized
from tokenwire.protocol.dialects.openai_chat import (
    ChatCompletionChunkEncoder,
    answer,
    completion,
    error_body,
    logprobs_of,
    model_list,
    parse_request,
    refusal,
)
from tokenwire.protocol.dialects.turns import CallInfo, PriorTurn
from tokenwire.protocol.events import (
    MessageDelta,
    MessageToolCall,
    TokenLogprob,
    TopLogprob,
    Usage,
)
from tokenwire.protocol.resources import Message, ReplyStatus

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
    assert call.options.sampling.temperature == 0.2
    assert call.options.sampling.top_p == 1


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


def test_tool_call_pieces_stream_as_openai_cuts_them() -> None:
    encoder = ChatCompletionChunkEncoder("m")
    encoder.encode(reply()[0])
    first = encoder.encode(MessageToolCall(MID, 1, 0, "call_1", "get_weather", ""))
    assert first == (
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
        b'"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},'
        b'"logprobs":null,"finish_reason":null}]}\n\n'
    )
    more = encoder.encode(MessageToolCall(MID, 2, 0, None, None, '{"city":'))
    assert more == (
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
        b'"function":{"arguments":"{\\"city\\":"}}]},"logprobs":null,"finish_reason":null}]}\n\n'
    )
    end = encoder.encode(reply(finish="tool_calls")[-1])
    assert end.startswith(
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{},"logprobs":null,'
        b'"finish_reason":"tool_calls"}]}\n\n'
    )


LOGPROB = TokenLogprob("Hi", -0.25, [72, 105], [TopLogprob("Hi", -0.25, [72, 105])])


def test_logprobs_ride_with_their_delta_when_asked_for() -> None:
    encoder = ChatCompletionChunkEncoder("m", logprobs=True)
    encoder.encode(reply()[0])
    frame = encoder.encode(MessageDelta(MID, 1, "Hi", [LOGPROB]))
    assert frame == (
        b"data: " + HEAD + b'"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":'
        b'[{"token":"Hi","logprob":-0.25,"bytes":[72,105],"top_logprobs":[{"token":"Hi",'
        b'"logprob":-0.25,"bytes":[72,105]}]}],"refusal":null},"finish_reason":null}]}\n\n'
    )
    # A client that did not ask sees none.
    plain = ChatCompletionChunkEncoder("m")
    plain.encode(reply()[0])
    assert b'"logprobs":null' in plain.encode(MessageDelta(MID, 1, "Hi", [LOGPROB]))


def test_completion_object_with_tool_calls_and_logprobs() -> None:
    body = completion(
        message_id=MID,
        created=1738144800,
        model="m",
        content="",
        finish="tool_calls",
        prompt_tokens=3,
        completion_tokens=5,
        tool_calls=[CallInfo("call_1", "get_weather", '{"city":"Paris"}')],
        logprobs=[],
    )
    assert body == (
        b'{"id":"chatcmpl-%s","object":"chat.completion","created":1738144800,"model":"m",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,'
        b'"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather",'
        b'"arguments":"{\\"city\\":\\"Paris\\"}"}}]},'
        b'"logprobs":{"content":[],"refusal":null},"finish_reason":"tool_calls"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}' % MID.encode()
    )


def test_error_body_names_the_param() -> None:
    assert error_body(
        "temperature: too hot", status=400, code="invalid_value", param="temperature"
    ) == (
        b'{"error":{"message":"temperature: too hot","type":"invalid_request_error",'
        b'"param":"temperature","code":"invalid_value"}}'
    )


def test_a_refusal_is_openais_error_and_a_401_an_invalid_api_key() -> None:
    assert refusal(Unauthorized("missing token")) == (
        b'{"error":{"message":"missing token","type":"authentication_error","param":null,'
        b'"code":"invalid_api_key"}}'
    )
    assert refusal(NotFound("no such model", code="model_not_found", param="model")) == (
        b'{"error":{"message":"no such model","type":"not_found_error","param":"model",'
        b'"code":"model_not_found"}}'
    )


def test_a_finished_reply_answers_whole_with_the_logprobs_its_events_carried() -> None:
    token = TokenLogprob("Hi", -0.5, [72, 105], [])
    events = [MessageDelta(MID, 1, "Hi", logprobs=[token]), MessageDelta(MID, 2, "!")]
    assert logprobs_of(events) == [token]
    final = Message(
        MID, "c1", "assistant", "Hi!", ReplyStatus.COMPLETE, finish_reason="length",
        usage=Usage(prompt_tokens=3, completion_tokens=2), created_at="2025-01-29T10:00:00.000Z",
    )  # fmt: skip
    assert answer(final, "m", logprobs=logprobs_of(events)) == (
        b'{"id":"chatcmpl-%s","object":"chat.completion","created":1738144800,"model":"m",'
        b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","refusal":null},'
        b'"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],'
        b'"top_logprobs":[]}],"refusal":null},"finish_reason":"length"}],'
        b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}' % MID.encode()
    )
