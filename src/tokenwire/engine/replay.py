"""Serving a reply's events from the stored row, once the event log no longer has them.

The row keeps, for each delta, its seq and where its text ends (``marks``), so the text
after any seq is a slice of the stored content: resume stays byte-exact after expiry.
"""

from __future__ import annotations

from collections.abc import Sequence

from tokenwire.protocol.events import (
    ContextInfo,
    ErrorInfo,
    Event,
    FinishReason,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageStart,
    MessageToolCall,
    Timings,
    Usage,
    UserMessageInfo,
)
from tokenwire.store.convert import isoformat
from tokenwire.store.records import Message, MessageStatus, Outcome


def offset_after(marks: Sequence[tuple[int, int]], seq: int) -> int:
    """Where the text delivered up to and including ``seq`` ends."""
    end = 0
    for mark_seq, mark_end in marks:
        if mark_seq > seq:
            break
        end = mark_end
    return end


CONTEXT = "context"  # reply metadata: {"omitted_turns": n} when the prompt left turns out


def context_of(reply: Message) -> ContextInfo | None:
    stored = reply.metadata.get(CONTEXT)
    if isinstance(stored, dict) and stored.get("omitted_turns"):
        return ContextInfo(int(stored["omitted_turns"]))
    return None


def start_event(
    reply: Message, user_message: Message, context: ContextInfo | None = None
) -> MessageStart:
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
        context=context or context_of(reply),
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


def outcome_of(reply: Message) -> Outcome:
    """How an ended reply ended, to write back."""
    return Outcome(
        status=reply.status,
        content=reply.content,
        marks=reply.marks,
        last_seq=reply.last_seq,
        finish_reason=reply.finish_reason,
        usage=reply.usage,
        timings=reply.timings,
        error=reply.error,
    )


def seed(reply: Message, user_message: Message, upto: int) -> list[Event]:
    """The events ``0..upto`` of a reply rebuilt from its row, to reopen its log for a
    continue: the start, each delta exactly as delivered (text and seq, from ``marks``),
    and a ``message.queued`` for a seq that carried no text (it was one)."""
    events: list[Event] = [start_event(reply, user_message)]
    texts = {seq: (start, end) for seq, start, end in _spans(reply.marks)}
    for seq in range(1, upto + 1):
        span = texts.get(seq)
        if span is None:
            events.append(MessageQueued(reply.id, seq, 1))
        else:
            events.append(MessageDelta(reply.id, seq, reply.content[span[0] : span[1]]))
    return events


def _spans(marks: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    spans: list[tuple[int, int, int]] = []
    start = 0
    for seq, end in marks:
        spans.append((seq, start, end))
        start = end
    return spans


def interrupted(reply: Message) -> Outcome:
    """A reply left streaming that no run carries on, ended ``interrupted`` with its text."""
    return Outcome(
        status=MessageStatus.INTERRUPTED,
        content=reply.content,
        marks=reply.marks,
        last_seq=reply.last_seq + 1,
        error=ErrorInfo("interrupted", "the server stopped before the reply finished", True),
    )


def failed(reply: Message, why: str) -> Outcome:
    """A reply that could not start, ended ``error`` (retryable) for ``why``."""
    return Outcome(
        status=MessageStatus.ERROR,
        content=reply.content,
        marks=reply.marks,
        last_seq=reply.last_seq + 1,
        error=ErrorInfo("unavailable", why, True),
    )
