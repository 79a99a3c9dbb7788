"""The tokenwire client: an async SDK, a thin blocking wrapper, and the models they share.

::

    async with AsyncTokenwire("http://127.0.0.1:8000", token) as client:
        conversation = await client.create_conversation()
        async for reply in client.send(conversation.id, "Hello"):
            print(reply.delta, end="", flush=True)

See docs/client.md.
"""

from tokenwire.client.backoff import Backoff, BackoffPolicy
from tokenwire.client.client import AsyncTokenwire
from tokenwire.client.errors import (
    APIError,
    AuthenticationError,
    ClientError,
    ConnectionFailed,
    NotFoundError,
    ProtocolError,
    TransportRefused,
)
from tokenwire.client.models import (
    Conversation,
    ConversationExport,
    Message,
    Page,
    Persona,
    Reply,
    ReplyError,
    ReplyStatus,
    SearchHit,
    Siblings,
    TransportKind,
)
from tokenwire.client.state import ConnectionState, ConnectionStatus
from tokenwire.client.stream import ReplyStream
from tokenwire.client.sync import SyncReplyStream, Tokenwire

__all__ = [
    "APIError",
    "AsyncTokenwire",
    "AuthenticationError",
    "Backoff",
    "BackoffPolicy",
    "ClientError",
    "ConnectionFailed",
    "ConnectionState",
    "ConnectionStatus",
    "Conversation",
    "ConversationExport",
    "Message",
    "NotFoundError",
    "Page",
    "Persona",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "ReplyStatus",
    "ReplyStream",
    "SearchHit",
    "Siblings",
    "SyncReplyStream",
    "Tokenwire",
    "TransportKind",
    "TransportRefused",
]
