"""What the query classes share: the session factory and the ownership check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ColumnElement, Table, Text, cast
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tokenwire.errors import NotFound
from tokenwire.ids import UserId, is_uuid
from tokenwire.store.tables import ConversationRow, MessageRow


def attribute(key: str) -> str:
    """The mapped attribute of a column: ``metadata`` is ``meta`` (the declarative base
    keeps ``metadata`` for itself)."""
    return "meta" if key == "metadata" else key


def columns(table: Table) -> list[ColumnElement[Any]]:
    """A table's columns labelled with the mapped attribute names, so that a Core row reads
    like an ORM row (``row.meta``) and one converter serves both."""
    return [c.label(attribute(c.key)) if c.key == "metadata" else c for c in table.c]


# A message's JSON columns, read as the text stored: on PostgreSQL too, by a cast, since its
# driver decodes json itself. ``convert`` decodes them, and not at all for the ``{}``, ``[]``
# and ``null`` most messages hold; ``marks.Marks`` decodes the marks only if they are used.
# SQLAlchemy's decoding, one ``json.loads`` per JSON column per message, was a fifth of
# reading a branch.
JSON_AS_TEXT = frozenset({"metadata", "images", "usage", "timings", "error", "marks"})


def as_text(column: Column[Any]) -> ColumnElement[Any]:
    """A message's column as ``MESSAGE_COLUMNS`` reads it (by the mapped attribute name)."""
    name = attribute(column.key)
    if column.key in JSON_AS_TEXT:
        return cast(column, Text).label(name)
    return column.label(name) if name != column.key else column


# A message's columns in the order ``convert.message_of`` unpacks them: by position, since a
# row's lookup by name costs several times more, and a page converts every message it shows.
MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "user_id",
    "role",
    "content",
    "status",
    "client_message_id",
    "reply_to",
    "parent_id",
    "model",
    "finish_reason",
    "usage",
    "timings",
    "error",
    "metadata",
    "images",
    "marks",
    "mark_log",
    "last_seq",
    "created_at",
    "updated_at",
)
_M: Table = MessageRow.__table__  # type: ignore[assignment]
if set(MESSAGE_FIELDS) != set(_M.c.keys()):  # a column added to the table, not to this list
    raise RuntimeError(f"MESSAGE_FIELDS does not name the columns of messages: {_M.c.keys()}")

CONVERSATION_COLUMNS = columns(ConversationRow.__table__)  # type: ignore[arg-type]
MESSAGE_COLUMNS = [as_text(_M.c[name]) for name in MESSAGE_FIELDS]


class Queries:
    engine: AsyncEngine
    _session: async_sessionmaker[AsyncSession]

    async def _owned_conversation(
        self, s: AsyncSession, user_id: UserId, cid: str
    ) -> ConversationRow:
        row = await s.get(ConversationRow, cid) if is_uuid(cid) else None
        if row is None or row.user_id != user_id:
            raise NotFound(f"conversation {cid} not found")
        return row
