"""What routes read and change besides turns: conversations and messages, as the engine
sees them.

A reply running in this process is shown with its live text and seq rather than its last
checkpoint, so every route gets the same view without looking into the engine's runs.
Ids are accepted in any case.
"""

from __future__ import annotations

import contextlib
import dataclasses
from contextlib import AbstractAsyncContextManager
from typing import Any

from tokenwire.engine.references import DIALECT, dialect_key, normalize_id
from tokenwire.engine.runs import Runs
from tokenwire.errors import BadRequest, Conflict, NotFound
from tokenwire.ids import ConversationId, MessageId, UserId
from tokenwire.log.base import EventLog
from tokenwire.protocol.options import ByKey
from tokenwire.providers.base import Provider
from tokenwire.store.records import Conversation, Message, MessageStatus, Page
from tokenwire.store.search import Hit
from tokenwire.store.store import SQLStore

# Replies that are answers: a streaming, failed or interrupted one shown as an answer would
# stop a seed app's poller ("the last message is from the assistant") on a text that is not.
ANSWERS = frozenset({MessageStatus.COMPLETE, MessageStatus.CANCELLED})


class Reads:
    store: SQLStore
    events: EventLog
    provider: Provider
    runs: Runs

    def live(self, message: Message) -> Message:
        run = self.runs.get(message.id)
        if run is None:
            return message
        return dataclasses.replace(message, content=run.content, last_seq=run.seq)

    @property
    def takes_images(self) -> bool:
        """Whether a message may carry images: some model of the provider's chain reads them."""
        return self.provider.supports_images

    @property
    def models(self) -> list[str]:
        """The models a request may name."""
        return [self.provider.model]

    # conversations -----------------------------------------------------------------------

    async def conversation(self, user_id: UserId, cid: str) -> Conversation:
        return await self.store.get_conversation(user_id, normalize_id(cid))

    async def find_conversation(self, user_id: UserId, ref: ByKey) -> Conversation | None:
        """The conversation a client's own key names: the one made under it in its dialect,
        or the user's conversation with that id."""
        try:
            return await self.conversation(user_id, ref.key)
        except NotFound:
            pass
        return await self.store.conversation_by_key(user_id, dialect_key(ref.kind, ref.key))

    async def named_conversation(self, user_id: UserId, ref: ByKey) -> Conversation:
        """``find_conversation``'s, or ``NotFound`` naming the kind and the key."""
        found = await self.find_conversation(user_id, ref)
        if found is None:
            raise NotFound(f"{ref.kind} {ref.key} not found")
        return found

    def model(self, name: str, *, param: str | None = None) -> str:
        """``name`` when it is a model a request may name, else ``NotFound`` as OpenAI
        answers a model it does not serve (``param``: the field that named it)."""
        if name not in self.models:
            raise NotFound(
                f"The model '{name}' does not exist", code="model_not_found", param=param
            )
        return name

    async def conversations(
        self,
        user_id: UserId,
        *,
        limit: int = 50,
        before: str | None = None,
        kind: str | None = None,
    ) -> Page[Conversation]:
        before = normalize_id(before) if before else None
        return await self.store.list_conversations(user_id, limit=limit, before=before, kind=kind)

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
        """A new conversation; a ``key`` in use raises ``Conflict``."""
        return await self.store.create_conversation(
            user_id,
            title=title,
            persona=persona,
            model=model,
            metadata=metadata,
            kind=kind,
            key=None if key is None or kind is None else dialect_key(kind, key),
        )

    async def open_conversation(self, user_id: UserId, ref: ByKey) -> Conversation:
        """The conversation ``ref`` names, made (empty) if there is none: for a socket that
        names its session before anything is sent. Two opens with a new key, on one
        instance or two, make one conversation."""
        for _attempt in range(3):
            found = await self.find_conversation(user_id, ref)
            if found is not None:
                return found
            with contextlib.suppress(Conflict):
                return await self.create_conversation(
                    user_id, metadata={DIALECT: ref.kind}, kind=ref.kind, key=ref.key
                )
        raise Conflict(f"the conversation {ref.key!r} keeps changing; try again")

    async def conversation_named(self, user_id: UserId, ref: ByKey) -> Conversation | None:
        """The conversation made under ``ref``'s key, and only that one."""
        return await self.store.conversation_by_key(user_id, dialect_key(ref.kind, ref.key))

    async def update_conversation(self, user_id: UserId, cid: str, **changes: Any) -> Conversation:
        return await self.store.update_conversation(user_id, normalize_id(cid), **changes)

    async def unname_conversation(self, user_id: UserId, cid: str) -> None:
        """Drop the conversation's key: the name is free for a new conversation."""
        await self.store.set_conversation_key(user_id, normalize_id(cid), None)

    # messages ----------------------------------------------------------------------------

    async def messages(
        self,
        user_id: UserId,
        cid: str,
        *,
        limit: int = 100,
        before: str | None = None,
        leaf: str | None = None,
    ) -> Page[Message]:
        """A branch, root to leaf, live, with each message's siblings: the current one, or
        the one through ``leaf``. Of it, the newest ``limit`` messages before ``before``."""
        _, branch = await self.store.branch(
            user_id, normalize_id(cid), normalize_id(leaf) if leaf else None
        )
        end = len(branch)
        if before:
            before = normalize_id(before)
            end = next((i for i, m in enumerate(branch) if m.id == before), -1)
            if end < 0:
                raise NotFound(f"message {before} not found on this branch")
        start = max(0, end - limit)
        items = [self.live(m) for m in branch[start:end]]
        return Page(items=items, next_before=items[0].id if start > 0 and items else None)

    async def transcript(
        self, user_id: UserId, cid: str, *, answers_only: bool = False
    ) -> list[Message]:
        """Every message of the conversation's current branch, oldest first. With
        ``answers_only``, replies that are not answers yet or never will be (streaming,
        failed, interrupted) are left out: for clients that show every item as an answer
        (the seeds' history and polling)."""
        found: list[Message] = []
        before: str | None = None
        while True:
            page = await self.messages(user_id, cid, limit=500, before=before)
            found = page.items + found
            if page.next_before is None:
                break
            before = page.next_before
        if answers_only:
            return [m for m in found if m.role != "assistant" or m.status in ANSWERS]
        return found

    async def message(self, user_id: UserId, mid: str) -> Message:
        found = await self.store.get_message(user_id, normalize_id(mid))
        return self.live((await self.store.with_siblings([found]))[0])

    async def with_siblings(self, messages: list[Message]) -> list[Message]:
        """``messages`` with their siblings (for answers that show new messages)."""
        return await self.store.with_siblings(messages)

    async def switch_branch(self, user_id: UserId, cid: str, mid: str) -> Conversation:
        """Make the branch through ``mid`` the conversation's current one."""
        return await self.store.set_leaf(user_id, normalize_id(cid), normalize_id(mid))

    async def search(self, user_id: UserId, query: str, *, limit: int = 20) -> list[Hit]:
        """The user's own messages and titles that match ``query``, best first."""
        return await self.store.search(user_id, query, limit=limit)

    async def export(self, user_id: UserId, cid: str) -> tuple[Conversation, list[Message]]:
        """The conversation and its whole tree, live, in creation order."""
        conversation, messages = await self.store.tree_messages(user_id, normalize_id(cid))
        return conversation, [self.live(m) for m in messages]

    async def import_conversation(
        self, user_id: UserId, conversation: Conversation, messages: list[Message]
    ) -> Conversation:
        """Store an exported conversation as a new one of the user's."""
        return await self.store.import_conversation(user_id, conversation, messages)

    async def reply(
        self, user_id: UserId, mid: str, *, conversation_id: ConversationId | None = None
    ) -> Message:
        """An assistant message of the user's (in ``conversation_id``, when given)."""
        message = await self.store.get_message(user_id, normalize_id(mid))
        if conversation_id is not None and message.conversation_id != conversation_id:
            raise NotFound(f"reply {mid} not found in this conversation")
        if message.role != "assistant":
            raise BadRequest("only an assistant reply has events", code="not_a_reply")
        return message

    async def find_reply(self, mid: MessageId) -> Message | None:
        """A reply by id, for a socket told that it started: no ownership check. A reply
        running here is the row its run started (with its live text), not read again: every
        socket on the conversation asks as soon as the reply starts."""
        run = self.runs.get(mid)
        if run is not None and run.reply is not None:
            return self.live(run.reply)
        return await self.store.find_message(mid)

    async def in_flight(self, conversation_id: ConversationId) -> list[Message]:
        """The conversation's replies still streaming, oldest first."""
        return await self.store.streaming_messages(conversation_id)

    async def running(self, user_id: UserId, ref: ByKey) -> Message | None:
        """The newest reply still streaming in the conversation a client's key names; None
        when it names none, or none runs (a resume has nothing to follow)."""
        conversation = await self.find_conversation(user_id, ref)
        running = [] if conversation is None else await self.in_flight(conversation.id)
        return running[-1] if running else None

    def watch(self, conversation_id: ConversationId) -> AbstractAsyncContextManager[Any]:
        """The ids of replies that start in the conversation from now on."""
        return self.events.watch(conversation_id)
