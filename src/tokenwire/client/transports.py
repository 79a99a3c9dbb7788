"""The three ways a reply reaches the client, each as one async iterator of what arrives.

An iterator either sends the user message (when the reply's id is not known yet) or
follows the reply from a seq, and ends after the reply's terminal event. It raises
``ConnectionFailed`` when cut; the caller resumes from what it has applied, on whichever
transport the ladder names then. Sends always carry the same ``client_message_id``, so a
send repeated after a cut returns the first reply instead of starting a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
from httpx_sse import EventSource

from tokenwire.client.errors import ConnectionFailed, TransportRefused, translated
from tokenwire.client.http import RestAPI
from tokenwire.client.models import Message, ReplyStatus, TransportKind
from tokenwire.client.websocket import ConversationLink
from tokenwire.protocol.events import Event, decode, is_terminal
from tokenwire.protocol.resources import SentTurn

Item = Event | Message


@dataclass(frozen=True)
class Attempt:
    """What one attempt needs: the send to make, or the reply and seq to follow from."""

    conversation_id: str
    message_id: str | None
    after: int
    content: str
    client_message_id: str
    # The turn's options in OpenAI's shapes (max_tokens, stop, tools ...), sent as given.
    options: Mapping[str, Any] = field(default_factory=dict)

    def send_body(self) -> dict[str, Any]:
        return {
            **self.options,
            "content": self.content,
            "client_message_id": self.client_message_id,
        }


async def websocket_items(transports: Transports, attempt: Attempt) -> AsyncGenerator[Item, None]:
    link = await transports.link(attempt.conversation_id)
    if attempt.message_id is None:
        sub = await link.send_message(attempt.content, attempt.client_message_id, attempt.options)
    else:
        sub = await link.follow(attempt.message_id, attempt.after)
    try:
        while True:
            event = await sub.get()
            yield event
            if is_terminal(event):
                return
    finally:
        link.unsubscribe(sub)


async def sse_items(rest: RestAPI, attempt: Attempt) -> AsyncGenerator[Item, None]:
    if attempt.message_id is None:
        response_cm = rest.stream(
            "POST",
            f"/api/v1/conversations/{attempt.conversation_id}/messages",
            json=attempt.send_body(),
        )
    else:
        response_cm = rest.stream(
            "GET", f"/api/v1/messages/{attempt.message_id}/events", params={"after": attempt.after}
        )
    async with response_cm as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            # Something in between turned the stream into another answer.
            raise TransportRefused("the answer to an event-stream request was not one")
        with translated():
            async for message in EventSource(response).aiter_sse():
                try:
                    event = decode(message.data)
                except msgspec.DecodeError:
                    continue  # an event type newer than this client
                yield event
                if is_terminal(event):
                    return
    raise ConnectionFailed("the event stream ended before the reply did")


async def polling_items(
    rest: RestAPI, attempt: Attempt, interval: float
) -> AsyncGenerator[Item, None]:
    message_id = attempt.message_id
    if message_id is None:
        accepted = await rest.call(
            "POST",
            f"/api/v1/conversations/{attempt.conversation_id}/messages",
            SentTurn,
            json=attempt.send_body(),
            params={"wait": "false"},
        )
        yield accepted.assistant_message
        message_id = accepted.assistant_message.id
    while True:
        message = await rest.call("GET", f"/api/v1/messages/{message_id}", Message)
        yield message
        if message.status is not ReplyStatus.STREAMING:
            return
        await asyncio.sleep(interval)


class Transports:
    """Opens the iterator for a transport kind; keeps one WebSocket per conversation in use.

    Sockets of other conversations are closed once idle: a client that goes through many
    conversations keeps few sockets open (the server limits them per user)."""

    def __init__(
        self,
        rest: RestAPI,
        make_link: Callable[[str], ConversationLink],
        *,
        poll_interval: float,
    ) -> None:
        self.rest = rest
        self._make_link = make_link
        self._poll_interval = poll_interval
        self.links: dict[str, ConversationLink] = {}

    async def link(self, conversation_id: str) -> ConversationLink:
        """The link of ``conversation_id`` (not opened yet); idle links of others close."""
        for other, idle in list(self.links.items()):
            if other != conversation_id and idle.idle:
                del self.links[other]
                await idle.close()
        link = self.links.get(conversation_id)
        if link is None:
            link = self.links[conversation_id] = self._make_link(conversation_id)
        return link

    async def reset(self, conversation_id: str) -> None:
        """Start the conversation's socket afresh (its followers resume on the new one)."""
        if (link := self.links.get(conversation_id)) is not None:
            await link.reset()

    def reopened(self, conversation_id: str, message_id: str) -> None:
        """The reply ``message_id`` was continued: the conversation's socket no longer
        serves its old end to a follower (``ConversationLink.reopened``)."""
        if (link := self.links.get(conversation_id)) is not None:
            link.reopened(message_id)

    def items(self, kind: TransportKind, attempt: Attempt) -> AsyncGenerator[Item, None]:
        if kind is TransportKind.WEBSOCKET:
            return websocket_items(self, attempt)
        if kind is TransportKind.SSE:
            return sse_items(self.rest, attempt)
        return polling_items(self.rest, attempt, self._poll_interval)

    async def aclose(self) -> None:
        links, self.links = list(self.links.values()), {}
        await asyncio.gather(*(link.close() for link in links), return_exceptions=True)
