"""Conversations as the dialects name them, and the history stateless clients resend.

A consultation, a session, an image-chat session and an AI SDK chat are all conversations.
Where the client names the conversation itself (seed 002's ``sessionId``, seed 003's
``session_id``, the AI SDK's chat ``id``), the conversation records that name in its
metadata: ``_dialect`` and ``_key`` (underscored: bookkeeping, not context for the model).
A key that is the id of one of the user's conversations names that conversation, so any
dialect can continue a conversation started elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.requests import HTTPConnection

from tokenwire.errors import NotFound
from tokenwire.ids import ConversationId, UserId, is_uuid
from tokenwire.protocol.dialects.turns import PriorTurn
from tokenwire.store import Conversation, Outcome, SQLStore
from tokenwire.store.records import MessageStatus

DIALECT = "_dialect"
KEY = "_key"


async def conversations(
    store: SQLStore, user_id: UserId, where: Callable[[Conversation], bool]
) -> AsyncIterator[Conversation]:
    """The user's conversations that satisfy ``where``, newest activity first."""
    before: str | None = None
    while True:
        page = await store.list_conversations(user_id, limit=200, before=before)
        for conversation in page.items:
            if where(conversation):
                yield conversation
        if page.next_before is None:
            return
        before = page.next_before


class Directory:
    """Finds and creates keyed conversations; one per app, on ``app.state``.

    Found ids are remembered, so a key costs one scan of the user's conversations per
    process; creation is serialised, so two requests with a new key make one conversation.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str], ConversationId] = {}
        self._lock = asyncio.Lock()

    async def find(
        self, store: SQLStore, user_id: UserId, dialect: str, key: str
    ) -> Conversation | None:
        if is_uuid(key):
            try:
                return await store.get_conversation(user_id, key)
            except NotFound:
                pass
        cached = self._ids.get((user_id, dialect, key))
        if cached is not None:
            try:
                return await store.get_conversation(user_id, cached)
            except NotFound:
                del self._ids[(user_id, dialect, key)]

        def named(c: Conversation) -> bool:
            return c.metadata.get(DIALECT) == dialect and c.metadata.get(KEY) == key

        async for conversation in conversations(store, user_id, named):
            self._ids[(user_id, dialect, key)] = conversation.id
            return conversation
        return None

    async def get_or_create(
        self,
        store: SQLStore,
        user_id: UserId,
        dialect: str,
        key: str,
        *,
        title: str | None = None,
        persona: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[Conversation, bool]:
        """The conversation named ``key``, made if there is none; True when just made."""
        async with self._lock:
            found = await self.find(store, user_id, dialect, key)
            if found is not None:
                return found, False
            conversation = await store.create_conversation(
                user_id,
                title=title,
                persona=persona,
                metadata={**(metadata or {}), DIALECT: dialect, KEY: key},
            )
            self._ids[(user_id, dialect, key)] = conversation.id
            return conversation, True

    def remember(self, user_id: UserId, dialect: str, key: str, cid: ConversationId) -> None:
        self._ids[(user_id, dialect, key)] = cid

    def recall(self, user_id: UserId, dialect: str, key: str) -> ConversationId | None:
        return self._ids.get((user_id, dialect, key))

    @property
    def lock(self) -> asyncio.Lock:
        """Held while checking-then-creating, for rules such as one active consultation."""
        return self._lock


def directory(conn: HTTPConnection) -> Directory:
    """The app's directory (made on first use: the app factory needs no change for it)."""
    state = conn.app.state
    found: Directory | None = getattr(state, "dialect_directory", None)
    if found is None:
        found = Directory()
        state.dialect_directory = found
    return found


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
