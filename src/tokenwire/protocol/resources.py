"""The resources of ``/api/v1`` as they travel: one Struct per shape, for the server that
answers with them and for ``tokenwire.client`` that decodes them.

The server's ``/openapi.json`` describes its answers with these very Structs
(``msgspec.json.schema``), and a test holds the two together. Fields are added, never
renamed: a client decodes what it knows and ignores the rest, so an older client reads a
newer server.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import msgspec

from tokenwire.protocol.events import ErrorInfo, Timings, Usage

__all__ = [
    "RESOURCES",
    "Conversation",
    "ConversationExport",
    "ErrorBody",
    "ErrorDetail",
    "Message",
    "Page",
    "Persona",
    "PersonaList",
    "ReplyStatus",
    "SearchHit",
    "SearchResults",
    "SentTurn",
    "Siblings",
    "SignedIn",
    "Window",
]

T = TypeVar("T")


class ReplyStatus(enum.StrEnum):
    """A message's status: a user message is ``complete``; a reply is ``streaming`` until it
    ends in one of the others."""

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
    kind: str | None = None  # the client protocol that made it, when not the canonical API
    key: str | None = None  # that client's own name for it (a session id, a chat id)
    created_at: str = ""
    updated_at: str = ""
    current_leaf_id: str | None = None  # the last message of the branch shown and continued


class Siblings(msgspec.Struct, frozen=True):
    """The messages with the same parent as this one (this one among them), in creation
    order: the alternative branches at this point. ``index`` is this one's place."""

    ids: list[str]
    index: int = 0


class Message(msgspec.Struct, frozen=True):
    """A stored message. For an assistant reply, ``seq`` is the last event its ``content``
    includes: following it from ``after=seq`` continues the text exactly."""

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
    usage: Usage | None = None
    timings: Timings | None = None
    error: ErrorInfo | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    images: list[str] = msgspec.field(default_factory=list)  # data: URLs
    created_at: str = ""
    updated_at: str = ""
    parent_id: str | None = None  # the message before it on its branch (None: the first)
    siblings: Siblings | None = None


class Window(msgspec.Struct, frozen=True):
    """``limit`` items from ``offset``: a listing paged as the seeds' apps page theirs, the
    limit held to 1 to 500 and the offset to 0 and above."""

    limit: int = 100
    offset: int = 0

    @classmethod
    def of(cls, limit: int = 100, offset: int = 0) -> Window:
        return cls(min(max(limit, 1), 500), max(offset, 0))

    def cut(self, items: Sequence[T]) -> list[T]:
        return list(items[self.offset : self.offset + self.limit])

    def more(self, total: int) -> bool:
        """Whether a listing of ``total`` items goes on after this window."""
        return self.offset + self.limit < total


class Page(msgspec.Struct, Generic[T], frozen=True):
    """One page of a listing, newest first; pass ``next_before`` as ``before`` for the next."""

    items: list[T]
    next_before: str | None = None


class SentTurn(msgspec.Struct, frozen=True):
    """The answer to a send: the user message and its reply (final when the send waited).
    ``events_url`` is where a send that did not wait (202) follows the reply."""

    user_message: Message
    assistant_message: Message
    events_url: str | msgspec.UnsetType = msgspec.UNSET


class SearchHit(msgspec.Struct, frozen=True):
    """One match of a search: a message (``message_id``, its ``role``) or a conversation's
    title (``message_id`` None). ``snippet`` is plain text around the match; higher
    ``rank`` is better."""

    conversation_id: str
    conversation_title: str | None
    message_id: str | None
    role: str | None
    snippet: str
    rank: float


class SearchResults(msgspec.Struct, frozen=True):
    query: str
    items: list[SearchHit]


EXPORT_FORMAT = "tokenwire.conversation"


class ConversationExport(msgspec.Struct, frozen=True):
    """A whole conversation: its messages as a tree (``parent_id``), in creation order,
    with their metadata. ``POST /api/v1/conversations/import`` takes it back."""

    conversation: Conversation
    messages: list[Message]
    format: str = EXPORT_FORMAT
    version: int = 1
    exported_at: str = ""


class Persona(msgspec.Struct, frozen=True):
    name: str
    description: str = ""
    system_prompt: str = ""
    model: str | None = None
    temperature: float | None = None


class PersonaList(msgspec.Struct, frozen=True):
    items: list[Persona]
    default: str | None = None  # the persona of a conversation created without one


class SignedIn(msgspec.Struct, frozen=True):
    """``/api/v1/session``: who the browser's session cookie signs in, and whether the
    server's model reads images (the page offers to attach them only then)."""

    user: str
    images: bool


class ErrorDetail(msgspec.Struct, frozen=True):
    """``retryable`` comes with the statuses where waiting may help (429, 5xx)."""

    code: str
    message: str
    retryable: bool | msgspec.UnsetType = msgspec.UNSET


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error of ``/api/v1``: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


# What /openapi.json describes with these Structs' schemas.
RESOURCES: tuple[Any, ...] = (
    Conversation,
    Page[Conversation],
    Message,
    Page[Message],
    SentTurn,
    PersonaList,
    SignedIn,
    ErrorBody,
    SearchResults,
    ConversationExport,
)
