"""What the client hands out: typed, immutable records decoded straight from the wire.

The stored resources (conversations, messages, personas) are ``protocol/resources``, the
Structs the server writes. Unknown fields are ignored, so a newer server with more fields
still decodes.
"""

from __future__ import annotations

import enum

import msgspec

from tokenwire.protocol.events import ErrorInfo
from tokenwire.protocol.resources import (
    Conversation,
    ConversationExport,
    Message,
    Page,
    Persona,
    ReplyStatus,
    SearchHit,
    Siblings,
)

__all__ = [
    "Conversation",
    "ConversationExport",
    "Message",
    "Page",
    "Persona",
    "Reply",
    "ReplyError",
    "ReplyStatus",
    "SearchHit",
    "Siblings",
    "TransportKind",
]


class TransportKind(enum.StrEnum):
    """How replies travel, best first: the client steps down this list when one fails."""

    WEBSOCKET = "websocket"
    SSE = "sse"
    POLLING = "polling"


# The resources of /api/v1: the very Structs the server answers with.
ReplyError = ErrorInfo  # why a reply ended without finishing; retryable: sending again may succeed


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
