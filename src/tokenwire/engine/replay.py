"""Serving a reply's events from the stored row, once the event log no longer has them.

The row keeps, for each delta, its seq and where its text ends (``marks``), so the text
after any seq is a slice of the stored content: resume stays byte-exact after expiry.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenwire.protocol.events import (
    ErrorInfo,
    Event,
    FinishReason,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageStart,
    MessageToolCall,
    Timings,
    Usage,
    UserMessageInfo,
)
from tokenwire.store.convert import isoformat
from tokenwire.store.records import Message, MessageStatus


def offset_after(marks: Sequence[tuple[int, int]], seq: int) -> int:
    """Where the text delivered up to and including ``seq`` ends."""
    end = 0
    for mark_seq, mark_end in marks:
        if mark_seq > seq:
            break
        end = mark_end
    return end


def start_event(reply: Message, user_message: Message) -> MessageStart:
    return MessageStart(
        message_id=reply.id,
        seq=0,
        conversation_id=reply.conversation_id,
        reply_to=user_message.id,
        user_message=UserMessageInfo(
            id=user_message.id,
            content=user_message.content,
            created_at=isoformat(user_message.created_at),
            client_message_id=user_message.client_message_id,
        ),
        model=reply.model or "",
        created_at=isoformat(reply.created_at),
    )


def text_after(reply: Message, after: int) -> MessageDelta | None:
    """One delta with all stored text past ``after``, carrying the seq of the last delta."""
    if not reply.marks or reply.marks[-1][0] <= after:
        return None
    text = reply.content[offset_after(reply.marks, after) :]
    return MessageDelta(reply.id, reply.marks[-1][0], text) if text else None


def tool_calls_after(reply: Message, after: int) -> list[MessageToolCall]:
    """The tool calls of a finished reply whose last piece came after ``after``, one event
    each with the whole call, at the seq of that last piece (``metadata.tool_calls``)."""
    calls = reply.metadata.get("tool_calls") or []
    return [
        MessageToolCall(
            reply.id, int(call["seq"]), index, call["id"], call["name"], call["arguments"]
        )
        for index, call in enumerate(calls)
        if int(call.get("seq", 0)) > after
    ]


_FINISH: dict[str, FinishReason] = {
    "length": "length",
    "tool_calls": "tool_calls",
    "cancelled": "cancelled",
}


def terminal_event(reply: Message) -> Event:
    seq = reply.last_seq
    if reply.status in (MessageStatus.COMPLETE, MessageStatus.CANCELLED):
        finish = "cancelled" if reply.status is MessageStatus.CANCELLED else reply.finish_reason
        return MessageEnd(
            message_id=reply.id,
            seq=seq,
            finish_reason=_FINISH.get(finish or "stop", "stop"),
            usage=reply.usage or Usage(0, 0),
            timings=reply.timings or Timings(ttft_ms=None, total_ms=0.0),
        )
    error = reply.error
    if error is None:
        if reply.status is MessageStatus.INTERRUPTED:
            error = ErrorInfo("interrupted", "the reply was interrupted", True)
        else:
            error = ErrorInfo("internal_error", "the reply failed", False)
    return MessageError(message_id=reply.id, seq=seq, error=error)
