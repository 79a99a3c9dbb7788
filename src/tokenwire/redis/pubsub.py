"""One Redis pub/sub channel per process, shared by everything in it that listens.

A subscribed Redis connection can do nothing else, so one connection per WebSocket (or per
command listener) would cost a connection per client. Instead a single task subscribes once and
hands every message to a callback that fans it out in memory. ``ready()`` returns only once
Redis has confirmed the subscription: whatever is published after that is received.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis

from tokenwire.errors import Unavailable
from tokenwire.redis.connection import FAILURES, RETRY_AFTER_S, translated

log = logging.getLogger("tokenwire.redis")


class Channel:
    """Listen on channel ``name`` of ``redis``, calling ``on_message`` with each payload.

    The listener resubscribes after a lost connection; messages published while it was away
    are lost, as pub/sub always loses them: callers that cannot afford that keep state in keys.
    """

    def __init__(
        self,
        redis: Redis,
        name: str,
        on_message: Callable[[bytes], None],
        *,
        retry_s: float = 0.5,
        confirm_s: float = 5.0,
    ) -> None:
        self.name = name
        self._redis = redis
        self._on_message = on_message
        self._retry_s = retry_s
        self._confirm_s = confirm_s
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def ready(self) -> None:
        """Start listening if needed and wait until Redis confirmed the subscription.

        Raises ``Unavailable`` when that does not happen within ``confirm_s`` seconds.
        """
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name=f"channel {self.name}")
        if self._subscribed.is_set():
            return
        try:
            async with asyncio.timeout(self._confirm_s):
                await self._subscribed.wait()
        except TimeoutError:
            raise Unavailable(
                f"Redis did not confirm the subscription to {self.name}", retry_after=RETRY_AFTER_S
            ) from self._error

    async def publish(self, payload: bytes) -> int:
        """Send ``payload`` to every subscriber in the deployment; returns how many got it."""
        with translated():
            return int(await self._redis.publish(self.name, payload))

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self.name)
                async for message in pubsub.listen():
                    kind = message["type"]
                    if kind == "subscribe":
                        self._error = None
                        self._subscribed.set()
                    elif kind == "message":
                        self._dispatch(message["data"])
            except FAILURES as exc:
                if self._subscribed.is_set():
                    log.warning("lost the subscription to %s: %s; resubscribing", self.name, exc)
                self._error = exc
            finally:
                self._subscribed.clear()
                with contextlib.suppress(*FAILURES):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(self._retry_s)

    def _dispatch(self, data: bytes) -> None:
        try:
            self._on_message(data)
        except Exception:
            log.exception("a message on %s could not be handled", self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
