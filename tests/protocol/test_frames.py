"""Canonical WebSocket client frames, from bytes."""

from __future__ import annotations

import pytest

from tokenwire.protocol.frames import (
    Cancel,
    Continue,
    FrameError,
    Ping,
    Regenerate,
    Resume,
    Send,
    decode_client_frame,
    error_frame,
    pong,
)
from tokenwire.protocol.option_fields import turn_fields
from tokenwire.protocol.options import Sampling


def test_valid_frames() -> None:
    assert decode_client_frame(b'{"type":"message.send","content":"hi"}') == Send(content="hi")
    assert decode_client_frame(
        '{"type":"message.send","content":"hi","client_message_id":"c"}'
    ) == Send(content="hi", client_message_id="c")
    assert decode_client_frame(
        '{"type":"message.send","content":"look","images":["data:image/png;base64,AA=="]}'
    ) == Send(content="look", images=("data:image/png;base64,AA==",))
    assert decode_client_frame('{"type":"message.cancel","message_id":"m"}') == Cancel("m")
    assert decode_client_frame('{"type":"stream.resume","message_id":"m","after":4}') == Resume(
        "m", 4
    )
    assert decode_client_frame('{"type":"ping"}') == Ping()
    assert decode_client_frame(b'{"type":"message.regenerate","message_id":"m"}') == Regenerate("m")
    assert decode_client_frame(b'{"type":"message.continue","message_id":"m"}') == Continue("m")


def test_a_send_carries_the_turn_options() -> None:
    frame = decode_client_frame(
        '{"type":"message.send","content":"hi","max_tokens":5,"stop":["\\n"],'
        '"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required",'
        '"tool_call_id":null}'
    )
    assert isinstance(frame, Send)
    fields = turn_fields(frame)
    assert fields["sampling"] == Sampling(max_tokens=5, stop=("\n",))
    assert fields["tools"] == ({"type": "function", "function": {"name": "f"}},)
    assert fields["tool_choice"] == "required"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{oops", "invalid_json"),
        (b"[]", "invalid_frame"),
        (b'{"content":"x"}', "invalid_frame"),
        (b'{"type":"nope"}', "unknown_type"),
        (b'{"type":"message.send"}', "invalid_frame"),
        (b'{"type":"message.send","content":5}', "invalid_frame"),
        (b'{"type":"stream.resume","message_id":"m","after":"x"}', "invalid_frame"),
        # A send's options are checked as an HTTP send's; an unknown one is named.
        (b'{"type":"message.send","content":"x","temperature":3}', "invalid_frame"),
        (b'{"type":"message.send","content":"x","top_k":3}', "invalid_frame"),
    ],
)
def test_bad_frames_say_what_is_wrong(raw: bytes, code: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code == code
    assert info.value.message


def test_server_frames() -> None:
    assert pong() == b'{"type":"pong"}'
    assert (
        error_frame("invalid_json", "bad")
        == b'{"type":"error","error":{"code":"invalid_json","message":"bad"}}'
    )
    assert error_frame("empty_content", "empty", client_message_id="c1") == (
        b'{"type":"error","error":{"code":"empty_content","message":"empty"},'
        b'"client_message_id":"c1"}'
    )
    assert error_frame("not_found", "gone", ref="m1") == (
        b'{"type":"error","error":{"code":"not_found","message":"gone"},"message_id":"m1"}'
    )
