"""The SQL store: users, conversations and messages on SQLite or PostgreSQL.

One implementation serves both engines through SQLAlchemy's async API; the URL scheme
picks the driver (``sqlite+aiosqlite://``, ``postgresql+asyncpg://``). Ownership is part of
every query a user can reach: another user's row is simply not found.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, event, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tokenwire.errors import Conflict, NotFound
from tokenwire.ids import ConversationId, MessageId, UserId, is_uuid, uuid7
from tokenwire.store import convert
from tokenwire.store.records import Conversation, Message, MessageStatus, Page, Turn, User
from tokenwire.store.tables import ConversationRow, MessageRow, UserRow

_UNSET: Any = object()


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "tw_" + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    message_id: MessageId
    content: str
    marks: Sequence[tuple[int, int]]
    last_seq: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a reply ended, written in one transaction with its final text."""

    status: MessageStatus
    content: str
    marks: Sequence[tuple[int, int]]
    last_seq: int
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    timings: dict[str, float | None] | None = None
    error: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers (history, resume) run while a checkpoint writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class SQLStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._session = async_sessionmaker(self.engine, expire_on_commit=False)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from tokenwire.store.migrate import upgrade

        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self._session() as s:
            await s.execute(select(1))

    # users -----------------------------------------------------------------------------

    async def create_user(self, name: str, token: str | None = None) -> tuple[User, str]:
        token = token or new_token()
        row = UserRow(
            id=uuid7(), name=name, token_hash=hash_token(token), created_at=convert.utcnow()
        )
        async with self._session.begin() as s:
            s.add(row)
        return convert.user(row), token

    async def set_token(self, user_id: UserId, token: str) -> None:
        async with self._session.begin() as s:
            await s.execute(
                update(UserRow).where(UserRow.id == user_id).values(token_hash=hash_token(token))
            )

    async def user_by_name(self, name: str) -> User | None:
        async with self._session() as s:
            row = (
                await s.execute(select(UserRow).where(UserRow.name == name))
            ).scalar_one_or_none()
        return convert.user(row) if row else None

    async def authenticate(self, token: str) -> User | None:
        async with self._session() as s:
            query = select(UserRow).where(UserRow.token_hash == hash_token(token))
            row = (await s.execute(query)).scalar_one_or_none()
        return convert.user(row) if row else None

    # conversations ---------------------------------------------------------------------

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
        row = ConversationRow(
            id=uuid7(),
            user_id=user_id,
            title=title,
            persona=persona,
            model=model,
            meta=metadata or {},
            kind=kind,
            key=key,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._session.begin() as s:
                s.add(row)
        except IntegrityError as exc:
            raise Conflict(f"a conversation named {key!r} exists already") from exc
        return convert.conversation(row)

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
        try:
            async with self._session.begin() as s:
                row = await self._owned_conversation(s, user_id, cid)
                row.key = key
        except IntegrityError:
            return False
        return True

    async def _owned_conversation(
        self, s: AsyncSession, user_id: UserId, cid: str
    ) -> ConversationRow:
        row = await s.get(ConversationRow, cid) if is_uuid(cid) else None
        if row is None or row.user_id != user_id:
            raise NotFound(f"conversation {cid} not found")
        return row

    async def get_conversation(self, user_id: UserId, cid: str) -> Conversation:
        async with self._session() as s:
            return convert.conversation(await self._owned_conversation(s, user_id, cid))

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

    async def delete_conversation(self, user_id: UserId, cid: str) -> None:
        async with self._session.begin() as s:
            row = await self._owned_conversation(s, user_id, cid)
            # Explicit, so that SQLite without the foreign-key pragma loses nothing either.
            await s.execute(delete(MessageRow).where(MessageRow.conversation_id == row.id))
            await s.delete(row)

    # messages --------------------------------------------------------------------------

    async def add_turn(
        self,
        user_id: UserId,
        cid: str,
        *,
        content: str,
        client_message_id: str | None = None,
        images: Sequence[str] = (),
        model: str | None = None,
    ) -> Turn:
        """Commit the user message and its streaming assistant message in one transaction.

        A ``client_message_id`` seen before in this conversation returns the earlier turn
        (``created=False``) instead: a retried send never makes a second reply.
        """
        if client_message_id is not None:
            existing = await self._turn_by_client_id(user_id, cid, client_message_id)
            if existing is not None:
                return existing
        now = convert.utcnow()
        user_row = MessageRow(
            id=uuid7(),
            conversation_id=cid,
            user_id=user_id,
            role="user",
            content=content,
            status=MessageStatus.COMPLETE.value,
            client_message_id=client_message_id,
            images=list(images),
            meta={},
            marks=[],
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        reply_row = MessageRow(
            id=uuid7(),
            conversation_id=cid,
            user_id=user_id,
            role="assistant",
            content="",
            status=MessageStatus.STREAMING.value,
            reply_to=user_row.id,
            model=model,
            images=[],
            meta={},
            marks=[],
            last_seq=0,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._session.begin() as s:
                conv = await self._owned_conversation(s, user_id, cid)
                conv.updated_at = now
                s.add(user_row)
                await s.flush()  # the user message row first: the reply references it
                s.add(reply_row)
        except IntegrityError:
            # A concurrent send with the same client_message_id won the race.
            if client_message_id is None:
                raise
            existing = await self._turn_by_client_id(user_id, cid, client_message_id)
            if existing is None:
                raise
            return existing
        return Turn(convert.message(user_row), convert.message(reply_row), created=True)

    async def _turn_by_client_id(self, user_id: UserId, cid: str, client_id: str) -> Turn | None:
        async with self._session() as s:
            await self._owned_conversation(s, user_id, cid)
            user_row = (
                await s.execute(
                    select(MessageRow).where(
                        MessageRow.conversation_id == cid,
                        MessageRow.client_message_id == client_id,
                    )
                )
            ).scalar_one_or_none()
            if user_row is None:
                return None
            reply_row = (
                await s.execute(select(MessageRow).where(MessageRow.reply_to == user_row.id))
            ).scalar_one()
        return Turn(convert.message(user_row), convert.message(reply_row), created=False)

    async def get_message(self, user_id: UserId, mid: str) -> Message:
        found = await self.find_message(mid)
        if found is None or found.user_id != user_id:
            raise NotFound(f"message {mid} not found")
        return found

    async def find_message(self, mid: str) -> Message | None:
        """A message by id for the engine's own use: no ownership check."""
        if not is_uuid(mid):
            return None
        async with self._session() as s:
            row = await s.get(MessageRow, mid)
        return convert.message(row) if row else None

    async def list_messages(
        self, user_id: UserId, cid: str, *, limit: int = 100, before: str | None = None
    ) -> Page[Message]:
        """The newest ``limit`` messages before ``before``, returned oldest first."""
        async with self._session() as s:
            await self._owned_conversation(s, user_id, cid)
            query = select(MessageRow).where(MessageRow.conversation_id == cid)
            if before:
                anchor = await s.get(MessageRow, before) if is_uuid(before) else None
                if anchor is None or anchor.conversation_id != cid:
                    raise NotFound(f"message {before} not found")
                query = query.where(
                    tuple_(MessageRow.created_at, MessageRow.id)
                    < tuple_(anchor.created_at, anchor.id)
                )
            query = query.order_by(MessageRow.created_at.desc(), MessageRow.id.desc()).limit(
                limit + 1
            )
            rows = (await s.execute(query)).scalars().all()
        items = [convert.message(r) for r in reversed(rows[:limit])]
        return Page(items=items, next_before=items[0].id if len(rows) > limit else None)

    async def history(self, cid: ConversationId, upto: MessageId) -> list[Message]:
        """Every message of the conversation created before ``upto``, oldest first: the prompt."""
        async with self._session() as s:
            anchor = await s.get(MessageRow, upto)
            if anchor is None:
                return []
            query = (
                select(MessageRow)
                .where(
                    MessageRow.conversation_id == cid,
                    tuple_(MessageRow.created_at, MessageRow.id)
                    < tuple_(anchor.created_at, anchor.id),
                )
                .order_by(MessageRow.created_at, MessageRow.id)
            )
            rows = (await s.execute(query)).scalars().all()
        return [convert.message(r) for r in rows]

    async def checkpoint(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Save the partial text of streaming replies, all in one transaction."""
        if not checkpoints:
            return
        now = convert.utcnow()
        async with self._session.begin() as s:
            for c in checkpoints:
                await s.execute(
                    update(MessageRow)
                    .where(
                        MessageRow.id == c.message_id,
                        MessageRow.status == MessageStatus.STREAMING.value,
                    )
                    .values(
                        content=c.content,
                        marks=[list(m) for m in c.marks],
                        last_seq=c.last_seq,
                        updated_at=now,
                    )
                )

    async def finish(self, mid: MessageId, outcome: Outcome) -> Message | None:
        """Write how a reply ended. Only a streaming reply can end: a reply that already ended
        (or whose conversation was deleted) is left as it is and ``None`` comes back."""
        MessageStatus.STREAMING.check_transition(outcome.status)
        async with self._session.begin() as s:
            row = await s.get(MessageRow, mid, with_for_update=True)
            if row is None or row.status != MessageStatus.STREAMING.value:
                return None
            row.status = outcome.status.value
            row.content = outcome.content
            row.marks = [list(m) for m in outcome.marks]
            row.last_seq = outcome.last_seq
            row.finish_reason = outcome.finish_reason
            row.usage = outcome.usage
            row.timings = outcome.timings
            row.error = outcome.error
            if outcome.metadata:
                row.meta = {**(row.meta or {}), **outcome.metadata}
            row.updated_at = convert.utcnow()
        return convert.message(row)

    async def streaming_messages(self, cid: str | None = None) -> list[Message]:
        """Replies still marked streaming: of one conversation, or all of them."""
        query = select(MessageRow).where(MessageRow.status == MessageStatus.STREAMING.value)
        if cid is not None:
            query = query.where(MessageRow.conversation_id == cid)
        async with self._session() as s:
            rows = (
                (await s.execute(query.order_by(MessageRow.created_at, MessageRow.id)))
                .scalars()
                .all()
            )
        return [convert.message(r) for r in rows]

    async def count_users(self) -> int:
        async with self._session() as s:
            return int((await s.execute(select(func.count()).select_from(UserRow))).scalar_one())
