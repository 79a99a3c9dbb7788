"""The canonical events, byte for byte."""

from __future__ import annotations

import msgspec
import pytest

from tokenwire.protocol.events import (
    ContextInfo,
    ErrorInfo,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageStart,
    MessageToolCall,
    Timings,
    TokenLogprob,
    TopLogprob,
    Usage,
    UserMessageInfo,
    coalesce,
    decode,
    encode,
    event_type,
    is_terminal,
    merge_deltas,
)

MID = "0190a5e0-1111-7000-8000-000000000001"
START = MessageStart(
    message_id=MID,
    seq=0,
    conversation_id="0190a5e0-0000-7000-8000-000000000000",
    reply_to="0190a5e0-1111-7000-8000-000000000000",
    user_message=UserMessageInfo(
        id="0190a5e0-1111-7000-8000-000000000000",
        content="Hi",
        created_at="2026-01-29T10:00:00.000Z",
        client_message_id="c1",
    ),
    model="smollm2",
    created_at="2026-01-29T10:00:00.000Z",
)


def test_start_bytes() -> None:
    assert encode(START) == (
        b'{"type":"message.start","message_id":"0190a5e0-1111-7000-8000-000000000001","seq":0,'
        b'"conversation_id":"0190a5e0-0000-7000-8000-000000000000",'
        b'"reply_to":"0190a5e0-1111-7000-8000-000000000000",'
        b'"user_message":{"id":"0190a5e0-1111-7000-8000-000000000000","content":"Hi",'
        b'"created_at":"2026-01-29T10:00:00.000Z","client_message_id":"c1"},'
        b'"model":"smollm2","created_at":"2026-01-29T10:00:00.000Z"}'
    )


def test_start_with_the_context_note_bytes() -> None:
    noted = msgspec.structs.replace(START, context=ContextInfo(omitted_turns=4))
    assert encode(noted) == encode(START)[:-1] + b',"context":{"omitted_turns":4}}'
    assert decode(encode(noted)) == noted
    assert decode(encode(START)).context is None  # absent: everything fit


def test_delta_queued_end_error_bytes() -> None:
    assert encode(MessageDelta(MID, 1, 'He said "hi"\n')) == (
        b'{"type":"message.delta","message_id":"0190a5e0-1111-7000-8000-000000000001",'
        b'"seq":1,"text":"He said \\"hi\\"\\n"}'
    )
    assert encode(MessageQueued(MID, 1, 2)) == (
        b'{"type":"message.queued","message_id":"0190a5e0-1111-7000-8000-000000000001",'
        b'"seq":1,"position":2}'
    )
    end = MessageEnd(MID, 5, "stop", Usage(12, 4), Timings(80.5, 400.0, 12.5))
    assert encode(end) == (
        b'{"type":"message.end","message_id":"0190a5e0-1111-7000-8000-000000000001","seq":5,'
        b'"finish_reason":"stop","usage":{"prompt_tokens":12,"completion_tokens":4},'
        b'"timings":{"ttft_ms":80.5,"total_ms":400.0,"tokens_per_second":12.5}}'
    )
    error = MessageError(MID, 3, ErrorInfo("provider_error", "upstream said 503", True))
    assert encode(error) == (
        b'{"type":"message.error","message_id":"0190a5e0-1111-7000-8000-000000000001","seq":3,'
        b'"error":{"code":"provider_error","message":"upstream said 503","retryable":true}}'
    )


@pytest.mark.parametrize(
    "event",
    [
        START,
        MessageDelta(MID, 1, "ünïcode ✓"),
        MessageQueued(MID, 2, 1),
        MessageEnd(MID, 3, "cancelled", Usage(1, 1), Timings(None, 3.0)),
        MessageError(MID, 3, ErrorInfo("interrupted", "stopped", True)),
    ],
)
def test_round_trip(event: object) -> None:
    assert decode(encode(event)) == event  # type: ignore[arg-type]


def test_types_and_terminals() -> None:
    assert event_type(START) == "message.start"
    assert event_type(MessageDelta(MID, 1, "x")) == "message.delta"
    assert not is_terminal(MessageDelta(MID, 1, "x"))
    assert is_terminal(MessageEnd(MID, 2, "stop", Usage(0, 0), Timings(None, 1.0)))
    assert is_terminal(MessageError(MID, 2, ErrorInfo("x", "y", False)))


def test_merge_keeps_the_last_seq_and_all_text() -> None:
    merged = merge_deltas(
        [MessageDelta(MID, 4, "a"), MessageDelta(MID, 5, "b"), MessageDelta(MID, 6, "c")]
    )
    assert merged == MessageDelta(MID, 6, "abc")


def test_coalesce_merges_only_consecutive_deltas() -> None:
    end = MessageEnd(MID, 6, "stop", Usage(0, 3), Timings(1.0, 2.0))
    events = [
        START,
        MessageDelta(MID, 1, "a"),
        MessageDelta(MID, 2, "b"),
        MessageQueued(MID, 3, 1),
        MessageDelta(MID, 4, "c"),
        MessageDelta(MID, 5, "d"),
        end,
    ]
    assert coalesce(events) == [
        START,
        MessageDelta(MID, 2, "ab"),
        MessageQueued(MID, 3, 1),
        MessageDelta(MID, 5, "cd"),
        end,
    ]
    assert coalesce([]) == []


def test_tool_call_and_logprobs_bytes() -> None:
    piece = MessageToolCall(MID, 3, 0, "call_1", "get_weather", "")
    assert encode(piece) == (
        b'{"type":"message.tool_call","message_id":"%s","seq":3,"index":0,"id":"call_1",'
        b'"name":"get_weather","arguments":""}' % MID.encode()
    )
    assert decode(encode(piece)) == piece
    assert event_type(piece) == "message.tool_call"
    assert not is_terminal(piece)
    token = TokenLogprob("Hi", -0.5, [72, 105], [TopLogprob("Hi", -0.5, [72, 105])])
    delta = MessageDelta(MID, 1, "Hi", [token])
    assert encode(delta) == (
        b'{"type":"message.delta","message_id":"%s","seq":1,"text":"Hi","logprobs":[{"token":'
        b'"Hi","logprob":-0.5,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.5,'
        b'"bytes":[72,105]}]}]}' % MID.encode()
    )
    assert decode(encode(delta)) == delta
    # Merged deltas keep every token's log probability, in order.
    merged = merge_deltas([delta, MessageDelta(MID, 2, "!"), delta])
    assert merged.text == "Hi!Hi"
    assert merged.logprobs == [token, token]
