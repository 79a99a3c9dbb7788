"""The client's public API is curated: these names, and no others by accident."""

from __future__ import annotations

import tokenwire.client


def test_exports() -> None:
    assert sorted(tokenwire.client.__all__) == [
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
    for name in tokenwire.client.__all__:
        assert hasattr(tokenwire.client, name), name
