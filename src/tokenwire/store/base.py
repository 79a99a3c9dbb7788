"""What the query classes share: the session factory and the ownership check."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tokenwire.errors import NotFound
from tokenwire.ids import UserId, is_uuid
from tokenwire.store.tables import ConversationRow


class Queries:
    _session: async_sessionmaker[AsyncSession]

    async def _owned_conversation(
        self, s: AsyncSession, user_id: UserId, cid: str
    ) -> ConversationRow:
        row = await s.get(ConversationRow, cid) if is_uuid(cid) else None
        if row is None or row.user_id != user_id:
            raise NotFound(f"conversation {cid} not found")
        return row
