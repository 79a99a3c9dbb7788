"""Row -> record conversion and the time helpers the store shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.protocol.dialects.timestamps import iso_ms
from tokenwire.protocol.events import ErrorInfo, Timings, Usage
from tokenwire.store import marks
from tokenwire.store.base import MESSAGE_FIELDS, attribute
from tokenwire.store.records import Conversation, Message, MessageStatus, Said, User
from tokenwire.store.tables import ConversationRow, MessageRow, UserRow


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; every stored time is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


isoformat = iso_ms  # a stored time as the API writes it: 2026-01-29T10:00:00.123Z


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
        current_leaf_id=MessageId(row.current_leaf_id) if row.current_leaf_id else None,
    )


def message(row: MessageRow | Any) -> Message:
    """An ORM row, or any row with its names (``message_of`` is quicker for a Core row of
    ``base.MESSAGE_COLUMNS``)."""
    return message_of(tuple(_read(row, name) for name in _NAMES))


# The row attributes of ``base.MESSAGE_FIELDS``, by the mapped names (``meta``).
_NAMES = tuple(attribute(f) for f in MESSAGE_FIELDS)


def _read(row: Any, name: str) -> Any:
    # A record built from values (``rows.message_record``) may have no appended marks.
    return getattr(row, name, None) if name == "mark_log" else getattr(row, name)


def message_of(row: Any, siblings: tuple[MessageId, ...] = ()) -> Message:
    """A row selected with ``base.MESSAGE_COLUMNS``, unpacked in ``base.MESSAGE_FIELDS``'s
    order; with ``siblings``, those of a message shown on its branch."""
    (mid, cid, uid, role, content, status, client_message_id, reply_to, parent_id, model,
     finish_reason, usage_, timings_, error_, meta, images, marks_, mark_log, last_seq,
     created_at, updated_at) = row  # fmt: skip
    return Message(
        id=MessageId(mid),
        conversation_id=ConversationId(cid),
        user_id=UserId(uid),
        role=role,
        content=content or "",
        status=MessageStatus(status),
        created_at=aware(created_at),
        updated_at=aware(updated_at),
        client_message_id=client_message_id,
        reply_to=MessageId(reply_to) if reply_to else None,
        model=model,
        finish_reason=finish_reason,
        usage=usage(stored_json(usage_)),
        timings=timings(stored_json(timings_)),
        error=error(stored_json(error_)),
        metadata=dict(stored_json(meta) or {}),
        images=tuple(stored_json(images) or ()),
        marks=marks.Marks(marks_, mark_log),
        last_seq=last_seq or 0,
        parent_id=MessageId(parent_id) if parent_id else None,
        siblings=siblings,
    )


def said(row: Any) -> Said:
    """A row selected with ``messages.SAID_COLUMNS``. Unpacked, not read by name: a prompt
    converts every message of its branch, and a row's lookup by name costs several times
    more."""
    mid, role, content, images, meta = row
    images = tuple(stored_json(images) or ())
    return Said(MessageId(mid), role, content or "", images, dict(stored_json(meta) or {}))


def stored_json(value: Any) -> Any:
    """A message's JSON column: the text stored, from a Core row (``base.JSON_AS_TEXT``),
    decoded as SQLAlchemy would; already decoded, from an ORM row. Most messages hold an
    empty object or list, or null, which cost no decoding."""
    if not isinstance(value, str):
        return value
    if value == "{}":
        return {}
    if value == "[]":
        return []
    if value == "null":
        return None
    return json.loads(value)


# usage, timings and error are JSON columns holding the event Structs' fields.


def to_json(value: Usage | Timings | ErrorInfo | None) -> dict[str, Any] | None:
    return None if value is None else msgspec.structs.asdict(value)


def usage(value: dict[str, Any] | None) -> Usage | None:
    if value is None:
        return None
    return Usage(int(value.get("prompt_tokens") or 0), int(value.get("completion_tokens") or 0))


def timings(value: dict[str, Any] | None) -> Timings | None:
    if value is None:
        return None
    return Timings(
        ttft_ms=value.get("ttft_ms"),
        total_ms=float(value.get("total_ms") or 0.0),
        tokens_per_second=value.get("tokens_per_second"),
    )


def error(value: dict[str, Any] | None) -> ErrorInfo | None:
    if value is None:
        return None
    return ErrorInfo(
        code=str(value.get("code", "internal_error")),
        message=str(value.get("message", "the reply failed")),
        retryable=bool(value.get("retryable", False)),
    )
