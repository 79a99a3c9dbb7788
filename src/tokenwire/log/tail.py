"""One blocking read per process for every reply followed live here.

A reader that has caught up with a reply's stream must wait for what comes next. Each such
reader blocking in its own ``XREAD`` would hold a Redis connection of its own: a thousand
clients following live replies, a thousand connections. Instead one task per process blocks
in a single ``XREAD`` over every stream followed here and, when streams grow, signals their
followers, who then take the new entries themselves with a non-blocking read from the pool.

A stream that starts being followed interrupts the blocking read (``CLIENT UNBLOCK``), so
that it is included at once rather than after the block runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from tokenwire.redis import FAILURES

log = logging.getLogger("tokenwire.redis")

# How often an unblock is retried while the reader has not yet picked a new stream up: the
# unblock and the read travel on different connections, so one may overtake the other.
_UNBLOCK_TRIES = 40
_UNBLOCK_PAUSE_S = 0.005


class Tail:
    def __init__(self, redis: Redis, *, block_ms: int, retry_s: float = 0.5) -> None:
        self._redis = redis  # the shared pool: CLIENT UNBLOCK goes through it
        self._block_ms = block_ms
        self._retry_s = retry_s
        self._signals: dict[str, set[asyncio.Event]] = {}
        self._since: dict[str, str] = {}  # stream -> the last entry id the reader has seen
        # stream -> how many times it was seen to grow: followers that read after the same
        # growth can share one read (``RedisEventLog._shared_take``).
        self._growth: dict[str, int] = {}
        self._conn: Redis | None = None  # one connection of its own, for the blocking read
        self._client_id: int | None = None
        self._blocked = False
        self._stale = False  # a stream was added since the reader built its key set
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def follow(self, key: str, after: int) -> AsyncIterator[asyncio.Event]:
        """An event set whenever stream ``key`` may have grown past what the caller read.

        The caller clears it before each non-blocking read of the stream and waits on it
        when that read found nothing new; a signal that comes in between is not lost.
        """
        signal = asyncio.Event()
        followers = self._signals.setdefault(key, set())
        added = not followers
        followers.add(signal)
        if added:
            self._since[key] = f"1-{after}" if after >= 0 else "0-0"
            self._stale = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._read(), name="redis tail")
        elif added:
            await self._interrupt()
        try:
            yield signal
        finally:
            followers.discard(signal)
            if not followers and self._signals.get(key) is followers:
                del self._signals[key]
                self._since.pop(key, None)
                self._growth.pop(key, None)

    def growth(self, key: str) -> int:
        """How many times stream ``key`` was seen to grow while followed here."""
        return self._growth.get(key, 0)

    async def _interrupt(self) -> None:
        for _ in range(_UNBLOCK_TRIES):
            if not self._stale:
                return  # the reader has rebuilt its key set since
            if self._blocked and self._client_id is not None:
                with contextlib.suppress(*FAILURES):
                    await self._redis.client_unblock(self._client_id)
            await asyncio.sleep(_UNBLOCK_PAUSE_S)

    async def _read(self) -> None:
        while self._signals:
            try:
                await self._read_once()
            except FAILURES as exc:
                # Followers time out of their waits and find the outage themselves.
                log.warning("the shared stream reader lost Redis: %s", exc)
                await self._reset()
                await asyncio.sleep(self._retry_s)
        await self._reset()

    async def _read_once(self) -> None:
        if self._conn is None:
            self._conn = self._redis.client()
            self._client_id = int(await self._conn.client_id())
        self._stale = False
        streams: dict[Any, Any] = dict(self._since)
        self._blocked = True
        try:
            reply: Any = await self._conn.xread(streams, block=self._block_ms, count=1000)
        finally:
            self._blocked = False
        for key, entries in reply or ():
            name = key.decode() if isinstance(key, bytes) else key
            if name not in self._since or not entries:
                continue  # nobody follows it any more
            last = entries[-1][0]
            self._since[name] = last.decode() if isinstance(last, bytes) else last
            self._growth[name] = self._growth.get(name, 0) + 1
            for signal in self._signals.get(name, ()):
                signal.set()

    async def _reset(self) -> None:
        conn, self._conn, self._client_id = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(*FAILURES):
                await conn.aclose()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._reset()
