"""What the store hands out: plain frozen records, never live ORM objects.

Records cross task and thread boundaries and are rendered to JSON by the API; an ORM
instance could lazy-load on attribute access, which async SQLAlchemy forbids.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.protocol.events import ErrorInfo, Timings, Usage

T = TypeVar("T")


class MessageStatus(enum.StrEnum):
    STREAMING = "streaming"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"
    INTERRUPTED = "interrupted"

    @property
    def is_final(self) -> bool:
        return self is not MessageStatus.STREAMING

    def check_transition(self, new: MessageStatus) -> None:
        """Raise ``ValueError`` unless ``self -> new`` is legal.

        A streaming reply ends in one of the final states. An interrupted reply may go back to
        streaming, when another instance takes it over and continues it; nothing else moves.
        """
        if self is MessageStatus.STREAMING and new is not MessageStatus.STREAMING:
            return
        if self is MessageStatus.INTERRUPTED and new is MessageStatus.STREAMING:
            return
        raise ValueError(f"message status cannot go from {self.value} to {new.value}")


@dataclass(frozen=True, slots=True)
class User:
    id: UserId
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Stamped:
    """When a row was made and last changed: the times conversations and messages share
    (always passed by name)."""

    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation(Stamped):
    id: ConversationId
    user_id: UserId
    title: str | None
    persona: str | None
    model: str | None
    metadata: dict[str, Any]
    kind: str | None = None  # the client protocol that made it, when not the canonical API
    key: str | None = None  # the client's own name for it (a session id, a chat id)
    current_leaf_id: MessageId | None = None  # the end of the branch shown and continued


@dataclass(frozen=True, slots=True)
class Message(Stamped):
    id: MessageId
    conversation_id: ConversationId
    user_id: UserId
    role: str
    content: str
    status: MessageStatus
    client_message_id: str | None = None
    reply_to: MessageId | None = None
    model: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    timings: Timings | None = None
    error: ErrorInfo | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    # For each delta delivered: (seq, end offset of the text so far). Lets a resume be
    # served from the stored row, byte-exact, once the event log has expired.
    marks: Sequence[tuple[int, int]] = ()
    last_seq: int = 0
    parent_id: MessageId | None = None  # the message before it on its branch
    # The messages with the same parent, this one among them, in creation order; filled by
    # the reads that show messages (empty otherwise).
    siblings: tuple[MessageId, ...] = ()


@dataclass(frozen=True, slots=True)
class Said:
    """A stored message as a prompt holds it: who said what, with its images and the
    metadata that names tool calls. A reply's prompt reads every message of its branch,
    so it reads these columns alone: no times, usage or marks (one per delta) to decode."""

    id: MessageId
    role: str
    content: str
    images: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, message: Message) -> Said:
        return cls(message.id, message.role, message.content, message.images, message.metadata)


@dataclass(frozen=True, slots=True)
class Turn:
    """A committed send: the user message and the assistant message that answers it."""

    user_message: Message
    assistant_message: Message
    created: bool  # False when a repeated client_message_id returned an earlier turn
    # The branch the reply answers, root to the user message (``history`` of the reply), as
    # the turn's own transaction read or wrote it; ``None`` when it was not read.
    branch: tuple[Said, ...] | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_before: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A streaming reply's text and marks so far; with ``after`` set, only what came after
    the checkpoint that saved seq ``after``, to append to it (the store applies it only if
    the row still ends at that seq)."""

    message_id: MessageId
    content: str
    marks: Sequence[tuple[int, int]]
    last_seq: int
    after: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a reply ended, written in one transaction with its final text."""

    status: MessageStatus
    content: str
    marks: Sequence[tuple[int, int]]
    last_seq: int
    finish_reason: str | None = None
    usage: Usage | None = None
    timings: Timings | None = None
    error: ErrorInfo | None = None
    metadata: dict[str, Any] | None = None
    model: str | None = None  # the model that wrote it, when not the one it asked for
    # A name for the reply's conversation, given with the end (in its transaction) when the
    # reply completes: the digest of the history a stateless client now holds.
    conversation_key: str | None = None
