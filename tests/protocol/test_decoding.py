"""JSON from clients within limits: never a RecursionError, always a DecodeError."""

from __future__ import annotations

import msgspec
import pytest

from tokenwire.protocol.decoding import (
    MAX_DEPTH,
    JSONLimitError,
    decode_json,
    nesting_depth,
)
from tokenwire.protocol.frames import FrameError, decode_client_frame


class Body(msgspec.Struct):
    content: str


def test_depth_counts_arrays_and_objects_but_not_strings() -> None:
    assert nesting_depth(b"1") == 0
    assert nesting_depth(b"[]") == 1
    assert nesting_depth(b'{"a":[{"b":[]}]}') == 4
    assert nesting_depth(b'["[[[[", "}}}"]') == 1
    assert nesting_depth(b'["\\"[[[", {}]') == 2  # an escaped quote does not end the string
    assert nesting_depth('{"a":"\\\\"}') == 1  # nor does an escaped backslash hide the end
    assert nesting_depth(b"[[[[[[", stop_after=2) == 3


def test_a_document_at_the_limit_parses() -> None:
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    expected: list[object] = []
    for _ in range(MAX_DEPTH - 1):
        expected = [expected]
    assert decode_json(deepest) == expected
    assert decode_json(b'{"content":"[[[[' + b"[" * 200 + b'"}', msgspec.json.Decoder(Body)) == (
        Body("[[[[" + "[" * 200)
    )


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
@pytest.mark.parametrize("opener", [b"[", b'{"a":'])
def test_deep_nesting_is_a_decode_error_not_a_recursion_error(depth: int, opener: bytes) -> None:
    data = opener * depth
    with pytest.raises(JSONLimitError) as info:
        decode_json(data)
    assert info.value.code == "too_deep"
    assert isinstance(info.value, msgspec.DecodeError)
    # The same inside a typed body, where msgspec would skip the unknown field recursively.
    with pytest.raises(msgspec.DecodeError):
        decode_json(b'{"content":"x","extra":' + data + b"}", msgspec.json.Decoder(Body))


def test_size_limit() -> None:
    with pytest.raises(JSONLimitError) as info:
        decode_json(b'"' + b"a" * 100 + b'"', max_bytes=50)
    assert info.value.code == "too_large"
    assert str(info.value) == "the JSON text is 102 bytes; the limit is 50"


def test_other_failures_stay_decode_errors() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_json(b"{oops")
    with pytest.raises(msgspec.ValidationError):
        decode_json(b'{"content":5}', msgspec.json.Decoder(Body))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type":"ping","x":' + "[" * 5_000, "frame_too_deep"),
        (
            '{"type":"message.send","content":"hi","images":' + "[" * 1_000 + "]" * 1_000 + "}",
            "frame_too_deep",
        ),
        (b"[" * 1_000, "frame_too_deep"),
    ],
)
def test_a_deep_frame_is_an_error_frame(raw: str | bytes, code: str) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code == code
    assert "deeper than 64" in info.value.message
