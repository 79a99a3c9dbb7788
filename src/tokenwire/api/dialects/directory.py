"""Conversations as the dialects name them, and the history stateless clients resend.

A consultation, a session, an image-chat session and an AI SDK chat are all conversations.
Where the client names the conversation itself (seed 002's ``sessionId``, seed 003's
``session_id``, the AI SDK's chat ``id``), the conversation's ``key`` is that name, prefixed
with the dialect, and unique per user in the store, so one name is one conversation even
across instances. A key that is the id of one of the user's conversations names that
conversation, so any dialect can continue a conversation started elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenwire.errors import NotFound
from tokenwire.ids import ConversationId, UserId, is_uuid
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.store import Conversation, Outcome, SQLStore
from tokenwire.store.records import MessageStatus

DIALECT = "_dialect"


def _key(dialect: str, key: str) -> str:
    return f"{dialect}:{key}"


async def find(store: SQLStore, user_id: UserId, dialect: str, key: str) -> Conversation | None:
    """The user's conversation that ``key`` names in ``dialect``: the one made under that
    name, or, when the key is the id of one of the user's conversations, that one."""
    if is_uuid(key):
        try:
            return await store.get_conversation(user_id, key)
        except NotFound:
            pass
    return await store.conversation_by_key(user_id, _key(dialect, key))


async def get_or_create(
    store: SQLStore,
    user_id: UserId,
    dialect: str,
    key: str,
    *,
    title: str | None = None,
    persona: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Conversation, bool]:
    """The conversation ``key`` names, made if there is none; True when just made. Two
    requests with a new key, on one instance or two, make one conversation."""
    found = await find(store, user_id, dialect, key)
    if found is not None:
        return found, False
    return await store.conversation_for_key(
        user_id,
        _key(dialect, key),
        kind=dialect,
        title=title,
        persona=persona,
        metadata={**(metadata or {}), DIALECT: dialect},
    )


async def remember(
    store: SQLStore, user_id: UserId, dialect: str, key: str, cid: ConversationId
) -> bool:
    """Name conversation ``cid`` by ``key`` from now on (its earlier name is dropped)."""
    return await store.set_conversation_key(user_id, cid, _key(dialect, key))


async def recall(store: SQLStore, user_id: UserId, dialect: str, key: str) -> Conversation | None:
    return await store.conversation_by_key(user_id, _key(dialect, key))


async def import_history(
    store: SQLStore, user_id: UserId, cid: ConversationId, turns: Sequence[PriorTurn]
) -> None:
    """Store the turns a stateless client sent before its new message, as complete turns,
    so that the model sees them and the history shows them. Consecutive messages of one
    role are paired with an empty message of the other."""
    pending: PriorTurn | None = None
    for turn in turns:
        if turn.role == "user":
            if pending is not None:
                await _store_turn(store, user_id, cid, pending, "")
            pending = turn
        else:
            await _store_turn(store, user_id, cid, pending or PriorTurn("user", ""), turn.content)
            pending = None
    if pending is not None:
        await _store_turn(store, user_id, cid, pending, "")


async def _store_turn(
    store: SQLStore, user_id: UserId, cid: ConversationId, user: PriorTurn, reply: str
) -> None:
    turn = await store.add_turn(user_id, cid, content=user.content, images=user.images)
    outcome = Outcome(
        status=MessageStatus.COMPLETE,
        content=reply,
        marks=((1, len(reply)),) if reply else (),
        last_seq=2 if reply else 1,
        finish_reason="stop",
        metadata={"imported": True},
    )
    await store.finish(turn.assistant_message.id, outcome)
