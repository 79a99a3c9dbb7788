"""Messages: the turn (a user message and its reply, committed together), history,
checkpoints of streaming replies, and how a reply ended."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, Text, Update, bindparam, literal, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tokenwire.errors import NotFound
from tokenwire.ids import ConversationId, MessageId, UserId, is_uuid
from tokenwire.store import convert, marks
from tokenwire.store.base import MESSAGE_COLUMNS, Queries, as_text
from tokenwire.store.records import (
    Checkpoint,
    Message,
    MessageStatus,
    Outcome,
    Page,
    Said,
    Turn,
)
from tokenwire.store.tables import ConversationRow, MessageRow

T: Table = MessageRow.__table__  # type: ignore[assignment]
C: Table = ConversationRow.__table__  # type: ignore[assignment]

# Deeper than any branch can be: a guard, should a parent ever point back down its branch.
_MAX_DEPTH = 1_000_000


# What a prompt reads of each message of its branch (``Said``).
SAID_COLUMNS = (T.c.id, T.c.role, T.c.content, as_text(T.c.images), as_text(T.c.metadata))


def _branch_query() -> Select[Any]:
    """The messages before ``:upto`` on its branch in the conversation ``:cid``, oldest
    first: a recursive walk up the parents from ``upto`` (SQLite and PostgreSQL alike)."""
    up = T.alias("up")
    walk = (
        select(T.c.id, T.c.parent_id, literal(0).label("depth"))
        .where(T.c.id == bindparam("upto"), T.c.conversation_id == bindparam("cid"))
        .cte("branch", recursive=True)
    )
    walk = walk.union_all(
        select(up.c.id, up.c.parent_id, walk.c.depth + 1).where(
            up.c.id == walk.c.parent_id,
            up.c.conversation_id == bindparam("cid"),
            walk.c.depth < _MAX_DEPTH,
        )
    )
    return (
        select(*SAID_COLUMNS)
        .join_from(T, walk, T.c.id == walk.c.id)
        .where(walk.c.depth > 0)
        .order_by(walk.c.depth.desc())
    )


# Statements of every reply, built once: building one (an alias, a CTE, their columns) and
# its cache key each time costs more than SQLAlchemy's compiled cache saves.
_BRANCH = _branch_query()
_BY_ID = select(*MESSAGE_COLUMNS).where(T.c.id == bindparam("mid"))
_NAME = (
    update(C)
    .where(
        C.c.id == select(T.c.conversation_id).where(T.c.id == bindparam("mid")).scalar_subquery()
    )
    .values(key=bindparam("v_key"))
)
_ENDED: tuple[str, ...] = ("status", "content", "marks", "mark_log", "last_seq")
_ENDED += ("finish_reason", "usage", "timings", "error", "updated_at")


@functools.cache
def _end_query(model: bool, metadata: bool) -> Update:
    """The write of a reply's end, guarded by its status; with the model that wrote it and
    its metadata merged, when the outcome has them."""
    names = (*_ENDED, *(("model",) if model else ()), *(("metadata",) if metadata else ()))
    streaming = (T.c.id == bindparam("mid")) & (T.c.status == MessageStatus.STREAMING.value)
    return update(T).where(streaming).values({n: bindparam(f"v_{n}") for n in names})


async def branch(conn: AsyncConnection, cid: str, upto: str) -> list[Said]:
    """The messages before ``upto`` on its branch in the conversation ``cid``, oldest first,
    in one statement, instead of the conversation's whole tree and then the branch's rows."""
    rows = (await conn.execute(_BRANCH, {"upto": upto, "cid": cid})).all()
    return [convert.said(row) for row in rows]


class MessageQueries(Queries):
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
        async with self.engine.connect() as conn:
            row = (await conn.execute(_BY_ID, {"mid": mid})).one_or_none()
        return convert.message_of(row) if row else None

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

    async def history(self, cid: ConversationId, upto: MessageId) -> list[Said]:
        """The messages before ``upto`` on its branch, oldest first: the prompt."""
        async with self.engine.connect() as conn:
            return await branch(conn, cid, upto)

    async def checkpoint(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Save the partial text of streaming replies, all in one transaction and at most two
        executemany: with thousands of replies streaming, a statement each would cost more
        than the replies themselves.

        A checkpoint with ``after`` appends its text and marks to the row, and only to a row
        that still ends at seq ``after``: each second costs what is new, not the whole reply
        again, and a row some other writer moved on is left alone. One without ``after``
        writes the reply whole.
        """
        if not checkpoints:
            return
        now = convert.utcnow()
        streaming = T.c.status == MessageStatus.STREAMING.value
        whole = [c for c in checkpoints if c.after is None]
        tails = [c for c in checkpoints if c.after is not None]
        async with self.engine.begin() as conn:
            if whole:
                query = (
                    update(T)
                    .where(T.c.id == bindparam("mid"), streaming)
                    .values(
                        content=bindparam("content"),
                        marks=bindparam("marks"),
                        mark_log="",
                        last_seq=bindparam("seq"),
                        updated_at=now,
                    )
                )
                rows = [
                    {
                        "mid": c.message_id,
                        "content": c.content,
                        "marks": [list(m) for m in c.marks],
                        "seq": c.last_seq,
                    }
                    for c in whole
                ]
                await conn.execute(query, rows)
            if tails:
                query = (
                    update(T)
                    .where(
                        T.c.id == bindparam("mid"), streaming, T.c.last_seq == bindparam("after")
                    )
                    .values(
                        content=T.c.content + bindparam("text", type_=Text),
                        mark_log=T.c.mark_log + bindparam("log", type_=Text),
                        last_seq=bindparam("seq"),
                        updated_at=now,
                    )
                )
                rows = [
                    {
                        "mid": c.message_id,
                        "text": c.content,
                        "log": marks.encode(c.marks),
                        "seq": c.last_seq,
                        "after": c.after,
                    }
                    for c in tails
                ]
                await conn.execute(query, rows)

    async def finish(self, mid: MessageId, outcome: Outcome) -> Message | None:
        """Write how a reply ended. Only a streaming reply can end: a reply that already ended
        (or whose conversation was deleted) is left as it is and ``None`` comes back."""
        ended, row = await self._finish(mid, outcome, returning=True)
        return row if ended else None

    async def end_reply(self, mid: MessageId, outcome: Outcome) -> bool:
        """``finish`` for a run writing its end, once per reply: no ``RETURNING`` row to read
        and convert; True when the reply was streaming and has now ended."""
        ended, _ = await self._finish(mid, outcome, returning=False)
        return ended

    async def _finish(
        self, mid: MessageId, outcome: Outcome, *, returning: bool
    ) -> tuple[bool, Message | None]:
        MessageStatus.STREAMING.check_transition(outcome.status)
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "content": outcome.content,
            "marks": [list(m) for m in outcome.marks],
            "mark_log": "",
            "last_seq": outcome.last_seq,
            "finish_reason": outcome.finish_reason,
            "usage": convert.to_json(outcome.usage),
            "timings": convert.to_json(outcome.timings),
            "error": convert.to_json(outcome.error),
            "updated_at": convert.utcnow(),
        }
        if outcome.model:
            values["model"] = outcome.model
        key = None if returning else outcome.conversation_key
        if key is not None:
            try:
                return await self._write_end(mid, outcome, values, key=key), None
            except IntegrityError:
                pass  # the key names another conversation: the reply ends, this one unnamed
        if not returning:
            return await self._write_end(mid, outcome, values), None
        streaming = _streaming(mid)
        async with self.engine.begin() as conn:
            if not await _merged_metadata(conn, streaming, outcome, values):
                return False, None
            query = update(T).where(streaming).values(values).returning(*MESSAGE_COLUMNS)
            row = (await conn.execute(query)).one_or_none()
        return row is not None, None if row is None else convert.message_of(row)

    async def _write_end(
        self, mid: MessageId, outcome: Outcome, values: dict[str, Any], *, key: str | None = None
    ) -> bool:
        """Write the end; with ``key``, name the reply's conversation in the same transaction
        (a stateless client's next request finds it by that name), only if the end was
        written. True when the reply was streaming and has now ended."""
        async with self.engine.begin() as conn:
            if outcome.metadata and not await _merged_metadata(
                conn, _streaming(mid), outcome, values
            ):
                return False
            # One statement: the status test and the write cannot be split by another writer.
            query = _end_query("model" in values, "metadata" in values)
            params = {f"v_{name}": value for name, value in values.items()}
            if (await conn.execute(query, {"mid": mid, **params})).rowcount != 1:
                return False
            if key is not None:
                await conn.execute(_NAME, {"mid": mid, "v_key": key})
        return True

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


def _streaming(mid: str) -> Any:
    """The reply ``mid``, while it streams: what an end may be written to."""
    return (T.c.id == mid) & (T.c.status == MessageStatus.STREAMING.value)


async def _merged_metadata(
    conn: AsyncConnection, streaming: Any, outcome: Outcome, values: dict[str, Any]
) -> bool:
    """Put the row's metadata with the outcome's over it in ``values``, the row locked until
    the end is written; False when the reply is no longer streaming."""
    if not outcome.metadata:
        return True
    query = select(T.c.metadata).where(streaming).with_for_update()
    current = (await conn.execute(query)).scalar_one_or_none()
    if current is None:
        return False
    values["metadata"] = {**current, **outcome.metadata}
    return True
