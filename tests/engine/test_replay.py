"""Serving a reply from its stored row: the text after any seq is an exact slice."""

from __future__ import annotations

from datetime import UTC, datetime

from tokenwire.engine.replay import offset_after, terminal_event, text_after, tool_calls_after
from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.protocol.events import (
    ErrorInfo,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageToolCall,
    Timings,
    Usage,
)
from tokenwire.store.records import Message, MessageStatus

NOW = datetime(2026, 1, 29, 10, 0, tzinfo=UTC)


def reply(**fields: object) -> Message:
    base: dict[str, object] = {
        "id": MessageId("m"),
        "conversation_id": ConversationId("c"),
        "user_id": UserId("u"),
        "role": "assistant",
        "content": "Hello world!",
        "status": MessageStatus.COMPLETE,
        "created_at": NOW,
        "updated_at": NOW,
        "finish_reason": "stop",
        "usage": Usage(3, 3),
        "timings": Timings(ttft_ms=5.0, total_ms=9.0),
        # seq 2 is a message.queued event: it carries no text
        "marks": ((1, 5), (3, 11), (4, 12)),
        "last_seq": 5,
    }
    base.update(fields)
    return Message(**base)  # type: ignore[arg-type]


def test_offsets() -> None:
    marks = ((1, 5), (3, 11), (4, 12))
    assert [offset_after(marks, s) for s in (-1, 0, 1, 2, 3, 4, 5)] == [0, 0, 5, 5, 11, 12, 12]


def test_text_after_each_seq() -> None:
    r = reply()
    assert text_after(r, 0) == MessageDelta("m", 4, "Hello world!")
    assert text_after(r, 1) == MessageDelta("m", 4, " world!")
    assert text_after(r, 2) == MessageDelta("m", 4, " world!")
    assert text_after(r, 3) == MessageDelta("m", 4, "!")
    assert text_after(r, 4) is None
    assert text_after(reply(marks=()), 0) is None


def test_terminal_events_from_status() -> None:
    end = terminal_event(reply())
    assert isinstance(end, MessageEnd)
    assert end.seq == 5
    assert end.finish_reason == "stop"
    cancelled = terminal_event(reply(status=MessageStatus.CANCELLED, finish_reason="cancelled"))
    assert isinstance(cancelled, MessageEnd)
    assert cancelled.finish_reason == "cancelled"
    interrupted = terminal_event(reply(status=MessageStatus.INTERRUPTED, error=None))
    assert isinstance(interrupted, MessageError)
    assert interrupted.error.code == "interrupted"
    failed = terminal_event(
        reply(
            status=MessageStatus.ERROR,
            error=ErrorInfo("provider_error", "x", False),
        )
    )
    assert isinstance(failed, MessageError)
    assert failed.error.retryable is False


def test_stored_tool_calls_replay_after_a_seq() -> None:
    calls = [
        {"id": "call_a", "name": "f", "arguments": '{"x": 1}', "seq": 3},
        {"id": "call_b", "name": "g", "arguments": "{}", "seq": 4},
    ]
    stored = reply(
        content="", marks=(), last_seq=5, finish_reason="tool_calls", metadata={"tool_calls": calls}
    )
    assert tool_calls_after(stored, 0) == [
        MessageToolCall("m", 3, 0, "call_a", "f", '{"x": 1}'),
        MessageToolCall("m", 4, 1, "call_b", "g", "{}"),
    ]
    assert tool_calls_after(stored, 3) == [MessageToolCall("m", 4, 1, "call_b", "g", "{}")]
    end = terminal_event(stored)
    assert isinstance(end, MessageEnd)
    assert end.finish_reason == "tool_calls"
