"""SSE framing and parsing (WHATWG HTML 9.2), byte for byte."""

from __future__ import annotations

from tokenwire.protocol.sse import (
    ServerSentEvent,
    SSEDecoder,
    comment,
    encode,
    response_headers,
)


def test_encode_with_id_and_event() -> None:
    assert encode(b'{"a":1}', event="message.delta", id=7) == (
        b'id: 7\nevent: message.delta\ndata: {"a":1}\n\n'
    )


def test_encode_data_only_and_multiline() -> None:
    assert encode(b'{"type":"token"}') == b'data: {"type":"token"}\n\n'
    assert encode(b"line one\nline two") == b"data: line one\ndata: line two\n\n"


def test_comment() -> None:
    assert comment("keep-alive") == b": keep-alive\n\n"
    assert comment() == b":\n\n"


def test_decoder_round_trips_encoded_events() -> None:
    decoder = SSEDecoder()
    wire = encode(b"x\ny", event="e", id="3") + comment("hb") + encode(b"z")
    assert decoder.feed(wire) == [
        ServerSentEvent("x\ny", "e", "3"),
        ServerSentEvent("z", "message", "3"),
    ]
    assert decoder.last_event_id == "3"


def test_decoder_handles_any_split_and_line_ending() -> None:
    wire = b"id: 1\r\nevent: a\r\ndata: one\r\n\r\nid: 2\rdata: two\r\rdata:three\n\n"
    expected = [
        ServerSentEvent("one", "a", "1"),
        ServerSentEvent("two", "message", "2"),
        ServerSentEvent("three", "message", "2"),
    ]
    for size in range(1, len(wire) + 1):
        decoder = SSEDecoder()
        got = []
        for i in range(0, len(wire), size):
            got += decoder.feed(wire[i : i + size])
        assert got == expected, size


def test_decoder_ignores_unknown_fields_and_reads_retry() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"foo: bar\nretry: 1500\ndata\n\n") == [
        ServerSentEvent("", "message", None, 1500)
    ]
    assert decoder.feed(b"\n\n") == []


def test_response_headers() -> None:
    assert response_headers() == [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"connection", b"keep-alive"),
    ]
    assert response_headers({"cache-control": "no-store", "x-a": "1"})[1:] == [
        (b"cache-control", b"no-store"),
        (b"x-accel-buffering", b"no"),
        (b"connection", b"keep-alive"),
        (b"x-a", b"1"),
    ]


def test_decoder_gives_the_same_events_however_the_bytes_are_cut() -> None:
    # LF-only chunks take the split-at-once path, chunks with a CR the line-by-line one; a
    # CRLF cut between its CR and LF must not end two lines.
    wire = b"id: 1\ndata: a\n\ndata: b\r\ndata: c\r\n\r\n: hb\n\nevent: e\rdata: d\r\r\n"
    expected = [
        ServerSentEvent("a", "message", "1"),
        ServerSentEvent("b\nc", "message", "1"),
        ServerSentEvent("d", "e", "1"),
    ]
    assert SSEDecoder().feed(wire) == expected
    for size in (1, 2, 3, 5, 7):
        decoder = SSEDecoder()
        got = [e for i in range(0, len(wire), size) for e in decoder.feed(wire[i : i + size])]
        assert got == expected, size
