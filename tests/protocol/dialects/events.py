"""Canonical events for dialect tests: one reply, built the way the engine builds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tokenwire.protocol.events import (
    ErrorInfo,
    Event,
    MessageDelta,
    MessageEnd,
    MessageError,
    MessageQueued,
    MessageStart,
    Timings,
    Usage,
    UserMessageInfo,
)
from tokenwire.protocol.resources import Message, ReplyStatus

MID = "0190f2a0-0000-7000-8000-000000000002"
UID = "0190f2a0-0000-7000-8000-000000000001"
CID = "0190f2a0-0000-7000-8000-0000000000c1"
CREATED = "2025-01-29T10:00:00.000Z"


def start(content: str = "Hello", client_message_id: str | None = None) -> MessageStart:
    user = UserMessageInfo(UID, content, CREATED, client_message_id)
    return MessageStart(MID, 0, CID, UID, user, "scripted", CREATED)


def reply(*texts: str, finish: str = "stop", queued: bool = False) -> list[Event]:
    """start, (queued), one delta per text, end."""
    events: list[Event] = [start()]
    if queued:
        events.append(MessageQueued(MID, len(events), 1))
    for text in texts:
        events.append(MessageDelta(MID, len(events), text))
    usage = Usage(prompt_tokens=3, completion_tokens=len(texts))
    timings = Timings(ttft_ms=12.5, total_ms=2500.4, tokens_per_second=10.0)
    events.append(MessageEnd(MID, len(events), finish, usage, timings))  # type: ignore[arg-type]
    return events


def failed(*texts: str, message: str = "the model is unavailable") -> list[Event]:
    events: list[Event] = [start()]
    for text in texts:
        events.append(MessageDelta(MID, len(events), text))
    events.append(MessageError(MID, len(events), ErrorInfo("provider_error", message, True)))
    return events


def ticking(*stamps: str) -> Callable[[], str]:
    """A clock that says each of ``stamps`` in turn, then keeps saying the last."""
    it: Iterator[str] = iter(stamps)
    last = [stamps[-1]]

    def now() -> str:
        last[0] = next(it, last[0])
        return last[0]

    return now


def stored(reply_text: str = "Hi there", **reply: Any) -> list[Message]:
    """A stored exchange as ``/api/v1`` shows it: the user's message, then the reply."""
    asked = Message(UID, CID, "user", "Hello", ReplyStatus.COMPLETE, created_at=CREATED)
    answered = Message(
        MID, CID, "assistant", reply_text, ReplyStatus.COMPLETE,
        created_at="2025-01-29T10:00:01.250Z", **reply,
    )  # fmt: skip
    return [asked, answered]
