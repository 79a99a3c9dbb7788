"""What the query classes share: the session factory and the ownership check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, Text, cast
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tokenwire.errors import NotFound
from tokenwire.ids import UserId, is_uuid
from tokenwire.store.tables import ConversationRow, MessageRow


def columns(table: Table) -> list[ColumnElement[Any]]:
    """A table's columns labelled with the mapped attribute names, so that a Core row reads
    like an ORM row (``row.meta``) and one converter serves both."""
    return [c.label("meta") if c.key == "metadata" else c for c in table.c]


def _message_column(column: ColumnElement[Any]) -> ColumnElement[Any]:
    # The marks as the JSON text stored (on PostgreSQL too: a cast, which its driver does
    # not decode), for ``marks.Marks`` to decode only if they are used.
    return cast(column, Text).label("marks") if column.key == "marks" else column


CONVERSATION_COLUMNS = columns(ConversationRow.__table__)  # type: ignore[arg-type]
MESSAGE_COLUMNS = [_message_column(c) for c in columns(MessageRow.__table__)]  # type: ignore[arg-type]


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
