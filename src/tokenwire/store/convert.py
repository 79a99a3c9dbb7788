"""Row -> record conversion and the time helpers the store shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.store import marks
from tokenwire.store.records import Conversation, Message, MessageStatus, User
from tokenwire.store.tables import ConversationRow, MessageRow, UserRow


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def isoformat(value: datetime) -> str:
    """``2026-01-29T10:00:00.123Z``: the form the seeds' clients parse."""
    return aware(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def user(row: UserRow) -> User:
    return User(id=UserId(row.id), name=row.name, created_at=aware(row.created_at))


def conversation(row: ConversationRow | Any) -> Conversation:
    # An ORM row, or a Core row selected with base.CONVERSATION_COLUMNS (same names).
    return Conversation(
        id=ConversationId(row.id),
        user_id=UserId(row.user_id),
        title=row.title,
        persona=row.persona,
        model=row.model,
        metadata=dict(row.meta or {}),
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        kind=row.kind,
        key=row.key,
    )


def message(row: MessageRow | Any) -> Message:
    # An ORM row, or a Core row selected with base.MESSAGE_COLUMNS (same names).
    return Message(
        id=MessageId(row.id),
        conversation_id=ConversationId(row.conversation_id),
        user_id=UserId(row.user_id),
        role=row.role,
        content=row.content or "",
        status=MessageStatus(row.status),
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        client_message_id=row.client_message_id,
        reply_to=MessageId(row.reply_to) if row.reply_to else None,
        model=row.model,
        finish_reason=row.finish_reason,
        usage=row.usage,
        timings=row.timings,
        error=row.error,
        metadata=dict(row.meta or {}),
        images=tuple(row.images or ()),
        marks=marks.merged(row.marks, getattr(row, "mark_log", None)),
        last_seq=row.last_seq or 0,
    )
