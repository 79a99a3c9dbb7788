"""The watchers of conversations in this process: the in-memory end of ``EventLog.watch``.

Both logs hand announcements to it: the memory log directly, the Redis log from its one
pub/sub subscription. Each watch has its own inbox of the reply ids that started.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

from tokenwire.ids import ConversationId, MessageId

T = TypeVar("T")

__all__ = ["Inbox", "Watchers"]


class Inbox(Generic[T]):
    """An unbounded queue for one reader: what an idle connection holds while it waits.

    ``asyncio.Queue`` keeps four deques (getters, putters, items, and its ``join`` event's
    waiters), about 3 KiB even when empty; every open WebSocket holds one or two of these.
    This holds a deque only once something is put, and one future while its reader waits.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[T] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> T:
        """The oldest item, waiting for one; one reader at a time."""
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        item = self._items.popleft()
        if not self._items:
            self._items = None  # an empty deque is most of an idle inbox's size
        return item


class Watchers:
    def __init__(self) -> None:
        self._queues: defaultdict[ConversationId, set[Inbox[MessageId]]] = defaultdict(set)

    def publish(self, conversation_id: ConversationId, message_id: MessageId) -> None:
        """Tell every watch of the conversation, in this process, that a reply started."""
        for queue in self._queues.get(conversation_id, ()):
            queue.put_nowait(message_id)

    @asynccontextmanager
    async def watch(
        self,
        conversation_id: ConversationId,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[AsyncIterator[MessageId]]:
        """Registered on entry, before ``ready`` (which waits for whatever feeds ``publish``)
        and before the caller goes on: nothing published after that is missed."""
        queue: Inbox[MessageId] = Inbox()
        self._queues[conversation_id].add(queue)

        async def ids() -> AsyncIterator[MessageId]:
            while True:
                yield await queue.get()

        try:
            if ready is not None:
                await ready()
            yield ids()
        finally:
            queues = self._queues.get(conversation_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._queues[conversation_id]
