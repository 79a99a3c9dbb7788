"""SQLAlchemy tables: the one schema that SQLite and PostgreSQL both run.

Alembic migrations under ``migrations/`` create exactly these; a test compares the two.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_user_updated", "user_id", "updated_at", "id"),
        Index("ix_conversations_user_kind", "user_id", "kind", "updated_at"),
        # A client's own name for a conversation (a session id, a chat id) names one only.
        UniqueConstraint("user_id", "key", name="uq_conversations_user_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str | None] = mapped_column(String(200))
    persona: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    kind: Mapped[str | None] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(300))
    # The last message of the branch the conversation shows and continues (messages form a
    # tree: ``MessageRow.parent_id``).
    current_leaf_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # One user message per client_message_id in a conversation: the idempotent retry.
        UniqueConstraint("conversation_id", "client_message_id", name="uq_messages_client_id"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at", "id"),
        Index("ix_messages_status", "status"),
        Index("ix_messages_parent", "parent_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("conversations.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    client_message_id: Mapped[str | None] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(36))
    # The message this one follows on its branch: a reply's user message, a user message's
    # previous reply; None at the root. Siblings (same parent) are alternative branches.
    parent_id: Mapped[str | None] = mapped_column(String(36))
    model: Mapped[str | None] = mapped_column(String(200))
    finish_reason: Mapped[str | None] = mapped_column(String(16))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    images: Mapped[list[Any]] = mapped_column(JSON, default=list)
    marks: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Marks a streaming reply's checkpoints appended since ``marks`` was last written whole,
    # as ``seq,end;`` pairs (``store/marks.py``): a checkpoint costs what is new, not the
    # whole reply again. The end of the reply writes them all into ``marks`` and clears it.
    mark_log: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    """A browser's sign-in: the cookie carries the secret, the row only its hash. Deleting
    the row signs that browser out."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Full-text search lives beside these tables, made and kept by the migrations only
# (``store/search.py``): SQLite's FTS5 tables ``fts_*`` with their triggers, PostgreSQL's
# generated ``search_vector`` columns with their GIN indexes ``ix_*_search``. They are not
# models: schema comparisons leave them out through ``in_models``.
SEARCH_COLUMN = "search_vector"


def in_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Whether a database object is one of the models above (Alembic's ``include_name``)."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("fts_")
    if type_ == "column":
        return name != SEARCH_COLUMN
    if type_ == "index":
        return not name.endswith("_search")
    return True
