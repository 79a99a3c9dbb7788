"""The watchers of conversations in this process: the in-memory end of ``EventLog.watch``.

Both logs hand announcements to it: the memory log directly, the Redis log from its one
pub/sub subscription. Each watch has its own queue of the reply ids that started.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from tokenwire.ids import ConversationId, MessageId


class Watchers:
    def __init__(self) -> None:
        self._queues: defaultdict[ConversationId, set[asyncio.Queue[MessageId]]] = defaultdict(set)

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
        queue: asyncio.Queue[MessageId] = asyncio.Queue()
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
