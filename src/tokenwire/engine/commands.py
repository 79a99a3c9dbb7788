"""Commands between instances: a cancel sent to any instance reaches the one running the reply.

Two paths, because pub/sub is fast but forgets: the command is published on
``<prefix>commands`` (every instance hears it within milliseconds and the owner stops the run),
and it is also written as a key, ``<prefix>cancel:<message id>``, which the owner checks each
time it renews its leases and which an instance taking the reply over checks before it
continues. A cancel thus arrives even if the owner's subscription was down at that moment, or
the owner died and the reply is being taken over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from tokenwire.redis import translated
from tokenwire.redis.pubsub import Channel

CANCEL_KEEP_S = 300  # longer than any takeover takes


class Commands:
    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._on_cancel: Callable[[str], None] = lambda _message_id: None
        self._channel = Channel(redis, prefix + "commands", self._received)

    def _flag(self, message_id: str) -> str:
        return f"{self._prefix}cancel:{message_id}"

    async def start(self, on_cancel: Callable[[str], None]) -> None:
        """Call ``on_cancel(message_id)`` for every cancel sent by any instance (this one
        included); returns once the subscription is confirmed."""
        self._on_cancel = on_cancel
        await self._channel.ready()

    async def cancel(self, message_id: str) -> None:
        """Ask whichever instance runs the reply to stop it."""
        with translated():
            await self._redis.set(self._flag(message_id), b"1", ex=CANCEL_KEEP_S)
        await self._channel.publish(b"cancel " + message_id.encode())

    async def cancelled(self, message_ids: Sequence[str]) -> set[str]:
        """The ids among ``message_ids`` that someone asked to cancel."""
        if not message_ids:
            return set()
        with translated():
            flags = await self._redis.mget([self._flag(m) for m in message_ids])
        return {m for m, f in zip(message_ids, flags, strict=True) if f is not None}

    def _received(self, payload: bytes) -> None:
        verb, _, message_id = payload.decode().partition(" ")
        if verb == "cancel" and message_id:
            self._on_cancel(message_id)

    async def close(self) -> None:
        await self._channel.close()
