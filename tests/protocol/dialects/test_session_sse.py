"""Seed 002's SSE events, byte for byte as the seed's own backend wrote them."""

from __future__ import annotations

import msgspec
import pytest

from tests.protocol.dialects.events import MID, failed, reply, stored
from tokenwire.errors import BadRequest, NotFound
from tokenwire.protocol.dialects.session_sse import (
    SessionMessage,
    SessionSSEEncoder,
    end_event,
    error_event,
    history,
    parse_message,
    refusal,
    refusal_event,
    start_event,
    token_event,
)
from tokenwire.protocol.sse import SSEDecoder


def test_the_four_event_types_match_the_seed() -> None:
    # Seed 002, "SSE Event Types", with the seed's placeholders.
    assert start_event("uuid") == b'data: {"type": "start", "messageId": "uuid"}\n\n'
    assert token_event("Hello there") == b'data: {"type": "token", "content": "Hello there"}\n\n'
    assert end_event("uuid") == b'data: {"type": "end", "messageId": "uuid"}\n\n'
    assert error_event("Error message") == b'data: {"type": "error", "error": "Error message"}\n\n'


def test_a_reply_is_start_tokens_end() -> None:
    encoder = SessionSSEEncoder()
    body = b"".join(encoder.encode(e) for e in reply("Hello there", " friend", queued=True))
    assert body == (
        b'data: {"type": "start", "messageId": "%s"}\n\n'
        b'data: {"type": "token", "content": "Hello there"}\n\n'
        b'data: {"type": "token", "content": " friend"}\n\n'
        b'data: {"type": "end", "messageId": "%s"}\n\n' % (MID.encode(), MID.encode())
    )


def test_a_failed_reply_ends_with_error() -> None:
    encoder = SessionSSEEncoder()
    frames = [encoder.encode(e) for e in failed("x")]
    assert frames[-1] == b'data: {"type": "error", "error": "the model is unavailable"}\n\n'


def test_newlines_and_quotes_cannot_break_the_framing() -> None:
    text = 'line one\n\ndata: "fake"\r\n'
    events = SSEDecoder().feed(token_event(text))
    assert len(events) == 1
    assert events[0].data == '{"type": "token", "content": "line one\\n\\ndata: \\"fake\\"\\r\\n"}'


def test_request_body() -> None:
    assert parse_message(b'{"content": "Hello", "role": "user"}') == SessionMessage("Hello", "user")
    assert parse_message(b'{"content": "Hello"}') == SessionMessage("Hello")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "invalid_request"),
        (b'{"role": "user"}', "invalid_request"),
        (b'{"content": "x", "role": "assistant"}', "invalid_role"),
    ],
)
def test_bad_request_bodies(body: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_message(body)
    assert info.value.code == code


def test_the_history_is_the_refresh_the_seeds_page_renders() -> None:
    items = msgspec.json.encode(history("s1", stored()))
    assert items == (
        b'[{"id":"0190f2a0-0000-7000-8000-000000000001","sessionId":"s1","role":"user",'
        b'"content":"Hello","status":"complete","createdAt":"2025-01-29T10:00:00.000Z",'
        b'"timestamp":"2025-01-29T10:00:00.000Z"},'
        b'{"id":"0190f2a0-0000-7000-8000-000000000002","sessionId":"s1","role":"assistant",'
        b'"content":"Hi there","status":"complete","createdAt":"2025-01-29T10:00:01.250Z",'
        b'"timestamp":"2025-01-29T10:00:01.250Z"}]'
    )


def test_a_refusal_is_the_error_event_on_the_stream_and_its_json_off_it() -> None:
    refused = NotFound("session s1 not found")
    assert refusal(refused) == b'{"type":"error","error":"session s1 not found"}'
    assert refusal_event(refused) == b'data: {"type": "error", "error": "session s1 not found"}\n\n'
