"""The tree of a conversation's messages: branches, the current leaf, regenerated replies,
replies reopened to continue, and whole conversations out and back in."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tokenwire.errors import Conflict, NotFound
from tokenwire.ids import MessageId, UserId, is_uuid, uuid7
from tokenwire.store import convert
from tokenwire.store.base import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, Queries
from tokenwire.store.records import Conversation, Message, MessageStatus
from tokenwire.store.rows import message_record, message_values
from tokenwire.store.tables import ConversationRow, MessageRow
from tokenwire.store.tree import Tree, load_tree

T: Table = MessageRow.__table__  # type: ignore[assignment]
C: Table = ConversationRow.__table__  # type: ignore[assignment]

# How a reply may have ended for it to be continued.
CONTINUABLE = ("length", "cancelled", "interrupted")


class BranchQueries(Queries):
    async def branch(
        self, user_id: UserId, cid: str, leaf: str | None = None
    ) -> tuple[Conversation, list[Message]]:
        """The branch root to leaf, with each message's siblings: the current one, or with
        ``leaf`` the one through that message (on to the newest message under it)."""
        async with self.engine.connect() as conn:
            conversation = await _owned(conn, user_id, cid)
            tree = await load_tree(conn, cid)
            if leaf is not None:
                if not is_uuid(leaf) or leaf not in tree:
                    raise NotFound(f"message {leaf} not found in this conversation")
                end: MessageId | None = tree.newest_leaf(MessageId(leaf))
            else:
                end = conversation.current_leaf_id
                if end not in tree:  # none yet: the newest message, if any
                    end = next(reversed(tree.parents), None)
            messages = await _fetch(conn, tree.branch(end) if end else [], tree)
        return conversation, messages

    async def with_siblings(self, messages: Sequence[Message]) -> list[Message]:
        """``messages`` with their siblings filled in."""
        trees: dict[str, Tree] = {}
        async with self.engine.connect() as conn:
            for cid in {m.conversation_id for m in messages}:
                trees[cid] = await load_tree(conn, cid)
        return [_with_siblings(trees[m.conversation_id], [m])[0] for m in messages]

    async def set_leaf(self, user_id: UserId, cid: str, mid: str) -> Conversation:
        """Show and continue the branch through ``mid`` (to the newest message under it)."""
        async with self.engine.begin() as conn:
            conversation = await _owned(conn, user_id, cid)
            tree = await load_tree(conn, cid)
            if not is_uuid(mid) or mid not in tree:
                raise NotFound(f"current_leaf_id: message {mid} not found in this conversation")
            leaf = tree.newest_leaf(MessageId(mid))
            now = convert.utcnow()
            await conn.execute(
                update(C).where(C.c.id == cid).values(current_leaf_id=leaf, updated_at=now)
            )
        return dataclasses.replace(conversation, current_leaf_id=leaf, updated_at=now)

    async def add_reply(
        self, user_message: Message, *, model: str | None, metadata: dict[str, Any]
    ) -> Message:
        """A new streaming reply to ``user_message``, a sibling of its earlier replies, and
        the conversation's leaf."""
        now = convert.utcnow()
        values = message_values(
            user_message.conversation_id,
            user_message.user_id,
            now,
            role="assistant",
            status=MessageStatus.STREAMING,
        )
        values.update(
            reply_to=user_message.id, parent_id=user_message.id, model=model, metadata=metadata
        )
        async with self.engine.begin() as conn:
            touched = await conn.execute(
                update(C)
                .where(C.c.id == user_message.conversation_id)
                .values(current_leaf_id=values["id"], updated_at=now)
            )
            if touched.rowcount == 0:
                raise NotFound(f"conversation {user_message.conversation_id} not found")
            await conn.execute(insert(T).values(values))
        return message_record(values)

    async def reopen(self, reply: Message, last_seq: int) -> Message | None:
        """Put an ended reply back to streaming, to be continued from ``last_seq`` with its
        text so far; ``None`` if it is no longer as ``reply`` shows it (ended otherwise, or
        already reopened by another request)."""
        if reply.status is MessageStatus.STREAMING:
            return None
        query = (
            update(T)
            .where(
                T.c.id == reply.id,
                T.c.status == reply.status.value,
                T.c.last_seq == reply.last_seq,
            )
            .values(
                status=MessageStatus.STREAMING.value,
                last_seq=last_seq,
                finish_reason=None,
                error=None,
                updated_at=convert.utcnow(),
            )
            .returning(*MESSAGE_COLUMNS)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(query)).one_or_none()
            if row is not None:
                await conn.execute(
                    update(C)
                    .where(C.c.id == reply.conversation_id)
                    .values(updated_at=convert.utcnow())
                )
        return None if row is None else convert.message_of(row)

    async def tree_messages(self, user_id: UserId, cid: str) -> tuple[Conversation, list[Message]]:
        """The conversation and every message of its tree, in creation order."""
        async with self.engine.connect() as conn:
            conversation = await _owned(conn, user_id, cid)
            tree = await load_tree(conn, cid)
            messages = await _fetch(conn, list(tree.parents), tree)
        return conversation, messages

    async def import_conversation(
        self, user_id: UserId, conversation: Conversation, messages: Sequence[Message]
    ) -> Conversation:
        """Store an exported conversation anew for ``user_id``: new ids throughout, its tree,
        leaf and texts as they were. Replies that were streaming come in interrupted."""
        ids: dict[str, str] = {m.id: uuid7() for m in messages}
        now = convert.utcnow()
        rows: list[dict[str, Any]] = []
        for m in messages:
            parent = m.parent_id
            if parent is not None and parent not in ids:
                raise Conflict(f"message {m.id}: its parent {parent} is not in the export")
            values = {
                f.name: getattr(m, f.name) for f in dataclasses.fields(m) if f.name != "siblings"
            }
            values.update(
                id=ids[m.id],
                conversation_id=conversation.id,
                user_id=user_id,
                parent_id=ids[parent] if parent else None,
                reply_to=ids.get(m.reply_to) if m.reply_to else None,
                client_message_id=None,
                status=(
                    MessageStatus.INTERRUPTED.value
                    if m.status is MessageStatus.STREAMING
                    else m.status.value
                ),
                usage=convert.to_json(m.usage),
                timings=convert.to_json(m.timings),
                error=convert.to_json(m.error),
                images=list(m.images),
                marks=[list(mark) for mark in m.marks],
            )
            rows.append(values)
        leaf = conversation.current_leaf_id
        made = dataclasses.replace(
            conversation,
            user_id=user_id,
            key=None,
            current_leaf_id=MessageId(ids[leaf]) if leaf in ids else None,
            updated_at=now,
        )
        values = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
        async with self.engine.begin() as conn:
            await conn.execute(insert(C).values(values))
            if rows:
                await conn.execute(insert(T), rows)
        return made


async def _owned(conn: AsyncConnection, user_id: UserId, cid: str) -> Conversation:
    row = None
    if is_uuid(cid):
        query = select(*CONVERSATION_COLUMNS).where(C.c.id == cid, C.c.user_id == user_id)
        row = (await conn.execute(query)).one_or_none()
    if row is None:
        raise NotFound(f"conversation {cid} not found")
    return convert.conversation(row)


async def _fetch(
    conn: AsyncConnection, ids: Sequence[MessageId], tree: Tree | None = None
) -> list[Message]:
    """The messages ``ids`` name, in that order; with ``tree``, with their siblings."""
    found: dict[str, Message] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = (await conn.execute(select(*MESSAGE_COLUMNS).where(T.c.id.in_(chunk)))).all()
        for row in rows:
            mid = MessageId(row[0])
            siblings = () if tree is None else tuple(tree.siblings(mid))
            found[mid] = convert.message_of(row, siblings)
    return [found[i] for i in ids if i in found]


def _with_siblings(tree: Tree, messages: Sequence[Message]) -> list[Message]:
    return [dataclasses.replace(m, siblings=tuple(tree.siblings(m.id))) for m in messages]
