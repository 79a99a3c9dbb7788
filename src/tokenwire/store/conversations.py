"""Conversations: made, named, listed (newest activity first), changed and deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tokenwire.errors import Conflict, NotFound
from tokenwire.ids import ConversationId, UserId, is_uuid, uuid7
from tokenwire.store import convert
from tokenwire.store.base import CONVERSATION_COLUMNS, Queries
from tokenwire.store.records import Conversation, Page
from tokenwire.store.tables import ConversationRow, MessageRow

C: Table = ConversationRow.__table__  # type: ignore[assignment]

_UNSET: Any = object()

# Built once: every socket's handshake and most routes read a conversation by id, and
# building the statement and its cache key costs about what running it does.
_OWNED = select(*CONVERSATION_COLUMNS).where(
    C.c.id == bindparam("cid"), C.c.user_id == bindparam("uid")
)


class ConversationQueries(Queries):
    async def create_conversation(
        self,
        user_id: UserId,
        *,
        title: str | None = None,
        persona: str | None = None,
        model: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: str | None = None,
        key: str | None = None,
    ) -> Conversation:
        """A new conversation. ``key`` is the client's own name for it, unique per user:
        a key already in use raises ``Conflict``."""
        now = convert.utcnow()
        conversation = Conversation(
            id=ConversationId(uuid7()),
            user_id=user_id,
            title=title,
            persona=persona,
            model=model,
            metadata=dict(metadata or {}),
            created_at=now,
            updated_at=now,
            kind=kind,
            key=key,
        )
        # One Core insert: a unit of work (identity map, flush) costs more than the statement,
        # and the OpenAI dialect makes a conversation per request.
        values = {
            "id": conversation.id,
            "user_id": user_id,
            "title": title,
            "persona": persona,
            "model": model,
            "metadata": conversation.metadata,
            "kind": kind,
            "key": key,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(C), [values])
        except IntegrityError as exc:
            raise Conflict(f"a conversation named {key!r} exists already") from exc
        return conversation

    async def conversation_by_key(self, user_id: UserId, key: str) -> Conversation | None:
        async with self._session() as s:
            query = select(ConversationRow).where(
                ConversationRow.user_id == user_id, ConversationRow.key == key
            )
            row = (await s.execute(query)).scalar_one_or_none()
        return convert.conversation(row) if row else None

    async def conversation_for_key(
        self,
        user_id: UserId,
        key: str,
        *,
        kind: str | None = None,
        title: str | None = None,
        persona: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[Conversation, bool]:
        """The conversation named ``key``, made if there is none (True when made). The unique
        key settles races, between requests and between instances alike."""
        found = await self.conversation_by_key(user_id, key)
        if found is not None:
            return found, False
        try:
            made = await self.create_conversation(
                user_id, title=title, persona=persona, metadata=metadata, kind=kind, key=key
            )
        except Conflict:
            found = await self.conversation_by_key(user_id, key)
            if found is None:
                raise
            return found, False
        return made, True

    async def set_conversation_key(self, user_id: UserId, cid: str, key: str | None) -> bool:
        """Name the conversation ``key`` (None: unname it). False when the key is taken."""
        if not is_uuid(cid):
            raise NotFound(f"conversation {cid} not found")
        # One Core statement: the OpenAI dialect names a conversation at the end of every
        # reply, where an ORM load, flush and commit cost a unit of work each time.
        query = update(C).where(C.c.id == cid, C.c.user_id == user_id).values(key=key)
        try:
            async with self.engine.begin() as conn:
                found = (await conn.execute(query)).rowcount
        except IntegrityError:
            return False
        if not found:
            raise NotFound(f"conversation {cid} not found")
        return True

    async def get_conversation(self, user_id: UserId, cid: str) -> Conversation:
        if not is_uuid(cid):
            raise NotFound(f"conversation {cid} not found")
        async with self.engine.connect() as conn:
            row = (await conn.execute(_OWNED, {"cid": cid, "uid": user_id})).one_or_none()
        if row is None:
            raise NotFound(f"conversation {cid} not found")
        return convert.conversation(row)

    async def list_conversations(
        self,
        user_id: UserId,
        *,
        limit: int = 50,
        before: str | None = None,
        kind: str | None = None,
    ) -> Page[Conversation]:
        """Newest activity first, of one ``kind`` if given. ``before`` is the ``next_before``
        of the previous page."""
        query = select(ConversationRow).where(ConversationRow.user_id == user_id)
        if kind is not None:
            query = query.where(ConversationRow.kind == kind)
        async with self._session() as s:
            if before:
                anchor = await s.get(ConversationRow, before) if is_uuid(before) else None
                if anchor is None or anchor.user_id != user_id:
                    raise NotFound(f"conversation {before} not found")
                query = query.where(
                    tuple_(ConversationRow.updated_at, ConversationRow.id)
                    < tuple_(anchor.updated_at, anchor.id)
                )
            query = query.order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
            rows = (await s.execute(query.limit(limit + 1))).scalars().all()
        items = [convert.conversation(r) for r in rows[:limit]]
        return Page(items=items, next_before=items[-1].id if len(rows) > limit else None)

    async def update_conversation(
        self,
        user_id: UserId,
        cid: str,
        *,
        title: str | None = _UNSET,
        persona: str | None = _UNSET,
        model: str | None = _UNSET,
        metadata: dict[str, Any] | None = _UNSET,
    ) -> Conversation:
        async with self._session.begin() as s:
            row = await self._owned_conversation(s, user_id, cid)
            if title is not _UNSET:
                row.title = title
            if persona is not _UNSET:
                row.persona = persona
            if model is not _UNSET:
                row.model = model
            if metadata is not _UNSET:
                row.meta = metadata or {}
            row.updated_at = convert.utcnow()
        return convert.conversation(row)

    async def set_title_if_unset(self, cid: str, title: str) -> bool:
        """Title the conversation unless it has a title already (the user's, or an earlier
        one): True when this one was written."""
        query = update(C).where(C.c.id == cid, C.c.title.is_(None)).values(title=title[:200])
        async with self.engine.begin() as conn:
            done = await conn.execute(query)
        return bool(done.rowcount)

    async def delete_conversation(self, user_id: UserId, cid: str) -> None:
        async with self._session.begin() as s:
            row = await self._owned_conversation(s, user_id, cid)
            # Explicit, so that SQLite without the foreign-key pragma loses nothing either.
            await s.execute(delete(MessageRow).where(MessageRow.conversation_id == row.id))
            await s.delete(row)
