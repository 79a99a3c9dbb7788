"""Messages: the turn (a user message and its reply, committed together), history,
checkpoints of streaming replies, and how a reply ended."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tokenwire.errors import NotFound
from tokenwire.ids import ConversationId, MessageId, UserId, is_uuid, uuid7
from tokenwire.store import convert
from tokenwire.store.base import Queries
from tokenwire.store.records import Checkpoint, Message, MessageStatus, Outcome, Page, Turn
from tokenwire.store.tables import MessageRow


class MessageQueries(Queries):
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
