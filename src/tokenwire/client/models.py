"""What the client hands out: typed, immutable records decoded straight from the wire.

Unknown fields are ignored, so a newer server with more fields still decodes.
"""

from __future__ import annotations

import enum
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class TransportKind(enum.StrEnum):
    """How replies travel, best first: the client steps down this list when one fails."""

    WEBSOCKET = "websocket"
    SSE = "sse"
    POLLING = "polling"


class ReplyStatus(enum.StrEnum):
    """A reply's status, as the server stores it."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class Conversation(msgspec.Struct, frozen=True):
    id: str
    title: str | None = None
    persona: str | None = None
    model: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


class Message(msgspec.Struct, frozen=True):
    """A stored message. For an assistant reply, ``seq`` is the last event its ``content``
    includes: following it with ``resume(id, after=seq)`` continues the text exactly."""

    id: str
    conversation_id: str
    role: str
    content: str
    status: ReplyStatus
    seq: int = 0
    client_message_id: str | None = None
    reply_to: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    error: dict[str, Any] | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a listing; pass ``next_before`` as ``before`` for the next one."""

    items: list[T]
    next_before: str | None = None


class Persona(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    system_prompt: str = ""
    model: str | None = None
    temperature: float | None = None


class ReplyError(msgspec.Struct, frozen=True):
    """Why a reply ended without finishing; ``retryable``: sending again may succeed."""

    code: str
    message: str
    retryable: bool


class Reply(msgspec.Struct, frozen=True):
    """A snapshot of one assistant reply as the caller has received it.

    ``text`` is everything received so far and ``delta`` what is new since the snapshot
    before it: joined in order, the deltas a stream yields are the reply, each character
    exactly once, whatever the connection went through.
    """

    message_id: str
    conversation_id: str
    text: str
    delta: str
    seq: int
    status: ReplyStatus
    transport: TransportKind
    finish_reason: str | None = None
    error: ReplyError | None = None
    queue_position: int | None = None
    user_message_id: str | None = None

    @property
    def is_streaming(self) -> bool:
        """True until the reply has ended, however it ended."""
        return self.status is ReplyStatus.STREAMING
