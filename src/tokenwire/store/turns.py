"""A turn as one transaction: find or make its conversation, store the history a stateless
client resent, and add the user message with its streaming reply.

All of it commits together or not at all, so a send that fails half-way (or that the engine
refused before calling here) leaves no conversation and no message behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tokenwire.errors import NotFound, Unprocessable
from tokenwire.ids import ConversationId, MessageId, UserId, is_uuid, uuid7
from tokenwire.protocol.options import ROOT, PriorTurn
from tokenwire.store import convert, messages
from tokenwire.store.base import CONVERSATION_COLUMNS
from tokenwire.store.messages import MessageQueries
from tokenwire.store.records import Conversation, MessageStatus, Said, Turn
from tokenwire.store.rows import message_record, message_values
from tokenwire.store.tables import ConversationRow, MessageRow

T: Table = MessageRow.__table__  # type: ignore[assignment]
C: Table = ConversationRow.__table__  # type: ignore[assignment]

# The statements of every turn, built once (building them costs more than running them
# from SQLAlchemy's compiled cache). The conversation is locked (PostgreSQL) until the turn
# commits: two sends to one conversation each see the leaf the other left, so neither
# branches off by accident.
_FIND_BY = {
    name: select(*CONVERSATION_COLUMNS)
    .where(C.c.user_id == bindparam("uid"), column == bindparam("value"))
    .with_for_update()
    for name, column in (("id", C.c.id), ("key", C.c.key))
}
_INSERT_MESSAGES = insert(T)
_INSERT_CONVERSATION = insert(C)
_TO_LEAF = (
    update(C)
    .where(C.c.id == bindparam("cid"))
    .values(updated_at=bindparam("v_now"), current_leaf_id=bindparam("v_leaf"))
)


@dataclass(frozen=True, slots=True)
class NewConversation:
    """The conversation to make when the turn's target names none yet, named ``key``;
    ``history`` is stored in it, as complete turns, before the new one."""

    key: str | None = None
    kind: str | None = None
    title: str | None = None
    persona: str | None = None
    model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    history: Sequence[PriorTurn] = ()


@dataclass(frozen=True, slots=True)
class TurnTarget:
    """Where a turn goes: the conversation ``cid``, else the one named ``key``, else a new
    one made from ``new``; ``NotFound`` when none applies."""

    cid: str | None = None
    key: str | None = None
    new: NewConversation | None = None
    # Turns stored before the new one when the conversation is found (not made): what the
    # client holds beyond what the found conversation does (tool results but the last).
    tail: Sequence[PriorTurn] = ()


@dataclass(frozen=True, slots=True)
class NewTurn:
    """The user message and what its reply row starts with. ``model`` names the model the
    reply asks for, given the conversation it lands in (found or just made). ``parent_id``:
    the reply the user message follows (a new branch when it is not the leaf); ``None``
    continues the conversation's current leaf, ``ROOT`` starts a new first message."""

    content: str
    parent_id: str | None = None
    client_message_id: str | None = None
    images: Sequence[str] = ()
    model: Callable[[Conversation], str | None] | None = None
    reply_metadata: dict[str, Any] = field(default_factory=dict)
    # A tool's result in the place of the user message: role "tool", metadata.tool_call_id.
    role: str = "user"
    metadata: dict[str, Any] = field(default_factory=dict)


class TurnQueries(MessageQueries):
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
        """A turn at the leaf of the conversation ``cid``: ``open_turn`` for a conversation
        known by id."""
        new = NewTurn(
            content=content,
            client_message_id=client_message_id,
            images=images,
            model=lambda _c: model,
        )
        return (await self.open_turn(user_id, TurnTarget(cid=cid), new))[1]

    async def open_turn(
        self, user_id: UserId, target: TurnTarget, turn: NewTurn
    ) -> tuple[Conversation, Turn]:
        """Commit the turn and whatever conversation it needs, in one transaction.

        A ``client_message_id`` seen before in the conversation returns the earlier turn
        (``created=False``). Two requests making the conversation of one new key race on the
        key's unique constraint: the loser retries and finds the winner's.
        """
        for _attempt in range(3):
            made = False
            conversation: Conversation | None = None
            try:
                async with self.engine.begin() as conn:
                    conversation = await self._find(conn, user_id, target)
                    if conversation is not None and target.tail:
                        rows = _imported(conversation.id, user_id, convert.utcnow(), target.tail)
                        conversation = await self._append(conn, conversation, rows)
                    if conversation is not None:
                        created = await self._add(conn, user_id, conversation, turn)
                    elif target.new is None:
                        raise NotFound(f"conversation {target.cid or target.key} not found")
                    else:
                        made = True
                        conversation, created = await self._make(conn, user_id, target.new, turn)
                return conversation, created
            except IntegrityError:
                if made:
                    continue  # the key was taken meanwhile: the next attempt finds it
                if turn.client_message_id is None or conversation is None:
                    raise
                existing = await self._turn_by_client_id(
                    user_id, conversation.id, turn.client_message_id
                )
                if existing is None:
                    raise
                return conversation, existing
        raise NotFound(f"conversation {target.key} not found")  # made and deleted, thrice

    async def _find(
        self, conn: AsyncConnection, user_id: UserId, target: TurnTarget
    ) -> Conversation | None:
        for name, value in (("id", target.cid), ("key", target.key)):
            if value is None or (name == "id" and not is_uuid(value)):
                continue
            params = {"uid": user_id, "value": value}
            row = (await conn.execute(_FIND_BY[name], params)).one_or_none()
            if row is not None:
                return convert.conversation(row)
        return None

    async def _make(
        self, conn: AsyncConnection, user_id: UserId, new: NewConversation, turn: NewTurn
    ) -> tuple[Conversation, Turn]:
        """Make the conversation with its history and the turn: two statements, the
        conversation row (its leaf already the new reply) and every message in one insert.
        The turn's branch is what was written, so nothing is read back."""
        now = convert.utcnow()
        cid = ConversationId(uuid7())
        history = _imported(cid, user_id, now, new.history)
        parent = None
        for row in history:
            row["parent_id"], parent = parent, row["id"]
        if turn.parent_id == ROOT:
            parent = None
        elif turn.parent_id is not None:
            # Every message of a new conversation is made here: none the client could name.
            raise NotFound(f"parent_id: message {turn.parent_id} not found in this conversation")
        made = Conversation(
            id=cid,
            user_id=user_id,
            title=new.title,
            persona=new.persona,
            model=new.model,
            metadata=new.metadata,
            created_at=now,
            updated_at=now,
            kind=new.kind,
            key=new.key,
        )
        user_values, reply_values = _turn_rows(made, user_id, now, turn, parent)
        made = dataclasses.replace(made, current_leaf_id=MessageId(reply_values["id"]))
        values = {f.name: getattr(made, f.name) for f in dataclasses.fields(made)}
        await conn.execute(_INSERT_CONVERSATION, values)
        await conn.execute(_INSERT_MESSAGES, [*history, user_values, reply_values])
        asked = message_record(user_values)
        branch = (*(Said.of(message_record(row)) for row in history), Said.of(asked))
        return made, Turn(asked, message_record(reply_values), created=True, branch=branch)

    async def _append(
        self, conn: AsyncConnection, conversation: Conversation, rows: list[dict[str, Any]]
    ) -> Conversation:
        """Store ``rows`` (complete turns) after the conversation's leaf, each the child of
        the one before, and make the last the leaf."""
        if not rows:
            return conversation
        parent = conversation.current_leaf_id
        for row in rows:
            row["parent_id"], parent = parent, row["id"]
        await conn.execute(insert(T), rows)
        leaf = MessageId(rows[-1]["id"])
        await conn.execute(update(C).where(C.c.id == conversation.id).values(current_leaf_id=leaf))
        return dataclasses.replace(conversation, current_leaf_id=leaf)

    async def _add(
        self, conn: AsyncConnection, user_id: UserId, conversation: Conversation, turn: NewTurn
    ) -> Turn:
        now = convert.utcnow()
        parent = await self._parent(conn, conversation, turn.parent_id)
        user_values, reply_values = _turn_rows(conversation, user_id, now, turn, parent)
        await conn.execute(_INSERT_MESSAGES, [user_values, reply_values])
        leaf = {"cid": conversation.id, "v_now": now, "v_leaf": reply_values["id"]}
        await conn.execute(_TO_LEAF, leaf)
        # The branch the reply answers, read in the turn's transaction (the conversation is
        # locked): the engine builds the model's request from it without asking again.
        branch = await messages.branch(conn, conversation.id, reply_values["id"])
        return Turn(
            message_record(user_values),
            message_record(reply_values),
            created=True,
            branch=tuple(branch),
        )

    async def _parent(
        self, conn: AsyncConnection, conversation: Conversation, parent_id: str | None
    ) -> str | None:
        """The parent of a new user message: the leaf, the root, or a reply of the
        conversation (``parent_id``), which must exist."""
        if parent_id is None:
            return conversation.current_leaf_id
        if parent_id == ROOT:
            return None
        query = select(T.c.role).where(T.c.id == parent_id, T.c.conversation_id == conversation.id)
        role = (await conn.execute(query)).scalar_one_or_none() if is_uuid(parent_id) else None
        if role is None:
            raise NotFound(f"parent_id: message {parent_id} not found in this conversation")
        if role != "assistant":
            raise Unprocessable(
                "parent_id must name a reply: a user message follows an assistant message",
                code="invalid_parent",
            )
        return parent_id


def _turn_rows(
    conversation: Conversation, user_id: UserId, now: datetime, turn: NewTurn, parent: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rows of the user message (after ``parent``) and of its streaming reply."""
    user_values = message_values(
        conversation.id, user_id, now, role=turn.role, content=turn.content
    )
    user_values.update(
        client_message_id=turn.client_message_id,
        images=list(turn.images),
        metadata=turn.metadata,
        parent_id=parent,
    )
    reply_values = message_values(
        conversation.id, user_id, now, role="assistant", status=MessageStatus.STREAMING
    )
    reply_values.update(
        reply_to=user_values["id"],
        parent_id=user_values["id"],
        model=turn.model(conversation) if turn.model else None,
        metadata=turn.reply_metadata,
    )
    return user_values, reply_values


def _imported(
    cid: str, user_id: UserId, now: datetime, history: Sequence[PriorTurn]
) -> list[dict[str, Any]]:
    """The rows of resent history as complete turns: consecutive messages of one role are
    paired with an empty message of the other, so that history alternates as the model
    expects. Ids are made in order, which orders rows of one timestamp."""
    empty = PriorTurn("assistant", "")
    pairs: list[tuple[PriorTurn, PriorTurn]] = []
    pending: PriorTurn | None = None
    for prior in history:
        # A tool's result stands where a user message would: the next reply answers it.
        if prior.role in ("user", "tool"):
            if pending is not None:
                pairs.append((pending, empty))
            pending = prior
        else:
            pairs.append((pending or PriorTurn("user", ""), prior))
            pending = None
    if pending is not None:
        pairs.append((pending, empty))
    rows: list[dict[str, Any]] = []
    for user, reply in pairs:
        asked = message_values(cid, user_id, now, role=user.role, content=user.content)
        asked["images"] = list(user.images)
        if user.tool_call_id is not None:
            asked["metadata"] = {"tool_call_id": user.tool_call_id}
        text = reply.content
        answered = message_values(cid, user_id, now, role="assistant", content=text)
        metadata: dict[str, Any] = {"imported": True}
        if reply.tool_calls:
            metadata["tool_calls"] = [
                {"id": c.id, "name": c.name, "arguments": c.arguments} for c in reply.tool_calls
            ]
        answered.update(
            reply_to=asked["id"],
            marks=[[1, len(text)]] if text else [],
            last_seq=2 if text else 1,
            finish_reason="tool_calls" if reply.tool_calls else "stop",
            metadata=metadata,
        )
        rows += [asked, answered]
    return rows
