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


def test_valid_frames() -> None:
    assert decode_client_frame(b'{"type":"message.send","content":"hi"}') == Send("hi")
    assert decode_client_frame(
        '{"type":"message.send","content":"hi","client_message_id":"c"}'
    ) == Send("hi", "c")
    assert decode_client_frame(
        '{"type":"message.send","content":"look","images":["data:image/png;base64,AA=="]}'
    ) == Send("look", None, ("data:image/png;base64,AA==",))
    assert decode_client_frame('{"type":"message.cancel","message_id":"m"}') == Cancel("m")
    assert decode_client_frame('{"type":"stream.resume","message_id":"m","after":4}') == Resume(
        "m", 4
    )
    assert decode_client_frame('{"type":"ping"}') == Ping()
    assert decode_client_frame(b'{"type":"message.regenerate","message_id":"m"}') == Regenerate("m")
    assert decode_client_frame(b'{"type":"message.continue","message_id":"m"}') == Continue("m")


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
