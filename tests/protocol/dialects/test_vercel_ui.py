"""The AI SDK UI message stream (protocol v1) and the default chat transport's body."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import MID, failed, reply
from tokenwire.errors import BadRequest, Unauthorized
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.protocol.dialects.vercel_ui import (
    HEADERS,
    UIMessageStreamEncoder,
    parse_request,
    refusal,
)
from tokenwire.protocol.events import MessageDelta, MessageToolCall

TID = b"text-" + MID.encode()


def test_a_reply_is_start_text_parts_finish_done() -> None:
    encoder = UIMessageStreamEncoder()
    body = b"".join(encoder.encode(e) for e in reply("Hello", ", world", queued=True))
    assert body == (
        b'data: {"type":"start","messageId":"%s"}\n\n'
        b'data: {"type":"text-start","id":"%s"}\n\n'
        b'data: {"type":"text-delta","id":"%s","delta":"Hello"}\n\n'
        b'data: {"type":"text-delta","id":"%s","delta":", world"}\n\n'
        b'data: {"type":"text-end","id":"%s"}\n\n'
        b'data: {"type":"finish","messageMetadata":{"finishReason":"stop"}}\n\n'
        b"data: [DONE]\n\n" % (MID.encode(), TID, TID, TID, TID)
    )
    assert HEADERS["x-vercel-ai-ui-message-stream"] == "v1"


def test_a_tool_call_streams_as_tool_input_parts() -> None:
    encoder = UIMessageStreamEncoder()
    start, *_, end = reply("Let me check.", finish="tool_calls")
    events = [
        start,
        MessageDelta(MID, 1, "Let me check."),
        MessageToolCall(MID, 2, 0, "call_1", "get_weather", ""),
        MessageToolCall(MID, 3, 0, None, None, '{"city":'),
        MessageToolCall(MID, 4, 0, None, None, '"Paris"}'),
        end,
    ]
    body = b"".join(encoder.encode(e) for e in events)
    assert body == (
        b'data: {"type":"start","messageId":"%s"}\n\n'
        b'data: {"type":"text-start","id":"%s"}\n\n'
        b'data: {"type":"text-delta","id":"%s","delta":"Let me check."}\n\n'
        b'data: {"type":"text-end","id":"%s"}\n\n'
        b'data: {"type":"tool-input-start","toolCallId":"call_1","toolName":"get_weather"}\n\n'
        b'data: {"type":"tool-input-delta","toolCallId":"call_1",'
        b'"inputTextDelta":"{\\"city\\":"}\n\n'
        b'data: {"type":"tool-input-delta","toolCallId":"call_1",'
        b'"inputTextDelta":"\\"Paris\\"}"}\n\n'
        b'data: {"type":"tool-input-available","toolCallId":"call_1","toolName":"get_weather",'
        b'"input":{"city":"Paris"}}\n\n'
        b'data: {"type":"finish","messageMetadata":{"finishReason":"tool-calls"}}\n\n'
        b"data: [DONE]\n\n" % (MID.encode(), TID, TID, TID)
    )


def test_errors_and_cancels() -> None:
    encoder = UIMessageStreamEncoder()
    frames = [encoder.encode(e) for e in failed()]
    assert (
        frames[-1]
        == b'data: {"type":"error","errorText":"the model is unavailable"}\n\ndata: [DONE]\n\n'
    )
    encoder = UIMessageStreamEncoder()
    frames = [encoder.encode(e) for e in reply("a", finish="cancelled")]
    assert frames[-1] == (
        b'data: {"type":"text-end","id":"%s"}\n\ndata: {"type":"abort"}\n\ndata: [DONE]\n\n' % TID
    )
    encoder = UIMessageStreamEncoder()
    frames = [encoder.encode(e) for e in reply("a", finish="length")]
    assert frames[-1].endswith(
        b'data: {"type":"finish","messageMetadata":{"finishReason":"length"}}\n\ndata: [DONE]\n\n'
    )


def test_the_default_transport_body() -> None:
    body = msgspec.json.encode(
        {
            "id": "chat-1",
            "messages": [
                {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
                {
                    "id": "a1",
                    "role": "assistant",
                    "parts": [
                        {"type": "step-start"},
                        {"type": "text", "text": "Hello!", "state": "done"},
                    ],
                },
                {
                    "id": "u2",
                    "role": "user",
                    "parts": [
                        {"type": "text", "text": "And this?"},
                        {
                            "type": "file",
                            "mediaType": "image/png",
                            "url": "data:image/png;base64,AA",
                        },
                    ],
                },
            ],
            "trigger": "submit-message",
        }
    )
    request = parse_request(body)
    assert request.chat_id == "chat-1"
    assert request.prompt == "And this?"
    assert request.prompt_id == "u2"
    assert request.images == ("data:image/png;base64,AA",)
    assert request.history == (PriorTurn("user", "Hi"), PriorTurn("assistant", "Hello!"))
    assert request.trigger == "submit-message"


@pytest.mark.parametrize(
    "body",
    [
        b"[",
        b'{"messages": []}',
        b'{"id": "c", "messages": []}',
        b'{"id": "c", "messages": [{"id": "a", "role": "assistant", "parts": []}]}',
        b'{"id": "c", "messages": [{"id": "u", "role": "user", "parts": []}], "trigger": "x"}',
    ],
)
def test_bad_bodies(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_request(body)


def test_a_refusal_is_the_error_chunk_the_sdk_shows() -> None:
    assert refusal(Unauthorized("missing token")) == (
        b'{"type":"error","errorText":"missing token"}'
    )
