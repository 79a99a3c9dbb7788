"""What a chat app needs beyond sending: branches (an edit resent, switching branch, the
siblings of a message), another reply (regenerate), more of a cut reply (continue), search
and export/import. Mixed into ``AsyncTokenwire``.

Regenerate, continue and an edit start their reply over REST and hand back a
``ReplyStream`` that follows it, exactly as a send's does.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from tokenwire.client.assembler import ReplyAssembler
from tokenwire.client.http import RestAPI
from tokenwire.client.stream import ReplyStream
from tokenwire.client.transports import Transports
from tokenwire.protocol.resources import (
    Conversation,
    ConversationExport,
    Message,
    Page,
    SearchHit,
    SearchResults,
    SentTurn,
)

T = TypeVar("T")


class _Client(Protocol):
    _rest: RestAPI
    _transports: Transports

    def resume(self, reply: Message | str) -> ReplyStream: ...

    def _follow(self, assembler: ReplyAssembler) -> ReplyStream: ...

    async def _get(self, path: str, into: type[T], params: dict[str, Any] | None = None) -> T: ...


class ChatFeatures:
    async def edit(
        self: _Client, conversation_id: str, parent_id: str | None, content: str
    ) -> ReplyStream:
        """Send ``content`` as the message after the reply ``parent_id`` (``None``: as a new
        first message): a new branch when that reply is not the leaf, as an edit resent.
        The stream follows the new reply; the branch becomes the current one."""
        turn = await self._rest.call(
            "POST",
            f"/api/v1/conversations/{conversation_id}/messages",
            SentTurn,
            json={"content": content, "parent_id": parent_id},
            params={"wait": "false"},
        )
        return self.resume(turn.assistant_message)

    async def branch(
        self: _Client, conversation_id: str, *, leaf: str | None = None, limit: int = 100
    ) -> Page[Message]:
        """The current branch, root to leaf (``leaf``: the branch through that message).
        Each message's ``siblings`` are the branches at that point."""
        params: dict[str, Any] = {"limit": limit}
        if leaf is not None:
            params["leaf"] = leaf
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return await self._get(path, Page[Message], params)

    async def switch_branch(self: _Client, conversation_id: str, message_id: str) -> Conversation:
        """Make the branch through ``message_id`` (a sibling, say) the current one: it is
        shown, and the next send continues it. Returns the conversation with its leaf."""
        return await self._rest.call(
            "PATCH",
            f"/api/v1/conversations/{conversation_id}",
            Conversation,
            json={"current_leaf_id": message_id},
        )

    async def siblings(self: _Client, message_id: str) -> list[Message]:
        """The message's siblings (itself among them), in creation order."""
        message = await self._get(f"/api/v1/messages/{message_id}", Message)
        ids = message.siblings.ids if message.siblings else [message.id]
        return [await self._get(f"/api/v1/messages/{i}", Message) for i in ids]

    async def regenerate(self: _Client, message_id: str) -> ReplyStream:
        """A new reply beside the reply ``message_id``, to the same user message; the old one
        is kept. The stream follows the new reply."""
        turn = await self._rest.call(
            "POST", f"/api/v1/messages/{message_id}/regenerate", SentTurn, params={"wait": "false"}
        )
        return self.resume(turn.assistant_message)

    async def continue_reply(self: _Client, message_id: str) -> ReplyStream:
        """Have the model go on with a reply that ended ``length``, ``cancelled`` or
        ``interrupted``; the stream yields the whole reply, its text growing in place."""
        reply = await self._rest.call(
            "POST", f"/api/v1/messages/{message_id}/continue", Message, params={"wait": "false"}
        )
        # The socket of the conversation may hold the reply's old end, which the new
        # events' seqs now pass over: it must not serve it to the follower.
        self._transports.reopened(reply.conversation_id, reply.id)
        return self._follow(ReplyAssembler.restarted(reply))

    async def search(self: _Client, query: str, *, limit: int = 20) -> list[SearchHit]:
        """The user's messages and conversation titles matching every word of ``query``
        (as word prefixes), best first."""
        found = await self._get("/api/v1/search", SearchResults, {"q": query, "limit": limit})
        return found.items

    async def export(self: _Client, conversation_id: str) -> ConversationExport:
        """The whole conversation: every message of its tree, with metadata."""
        path = f"/api/v1/conversations/{conversation_id}/export"
        return await self._get(path, ConversationExport, {"format": "json"})

    async def export_markdown(self: _Client, conversation_id: str) -> str:
        """The current branch as a Markdown document."""
        response = await self._rest.request(
            "GET",
            f"/api/v1/conversations/{conversation_id}/export",
            params={"format": "markdown"},
        )
        return response.text

    async def import_conversation(self: _Client, exported: ConversationExport) -> Conversation:
        """Store an export as a new conversation (new ids, the same tree)."""
        import msgspec

        return await self._rest.call(
            "POST",
            "/api/v1/conversations/import",
            Conversation,
            json=msgspec.to_builtins(exported),
        )
