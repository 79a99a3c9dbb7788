"""The event log in Redis Streams: every instance reads every reply.

Keys and channels (all under ``settings.redis_prefix``):

    log:<message id>    a stream; the entry of seq N has the id ``1-N`` and the fields
                        ``e`` (the canonical JSON of the event) and ``t`` (``1`` if terminal)
    announce            a pub/sub channel: ``<conversation id> <message id>`` per reply start

One Lua script appends: it checks the writer's lease (when the append is fenced), that the
seq is the next one and that the stream has not ended, adds the entry and sets the key's
expiry, atomically. The same event again is taken as appended: the client retries a command
whose connection dropped, and Redis may have run it before the answer was lost.

A stream that lacks events its writer appended (Redis restarted empty, or from an older
file) is deleted by that writer's next append (``StreamLost``), so that its readers,
finding it gone, finish from the store. Two writers of one reply (an owner presumed dead
that was only slow, and the instance that took over) cannot interleave, and the slow one is
the one refused: its lease is gone. A stream expires ``log_ttl_s`` after its terminal event
(past that, the engine replays from the store). A stream that gets no write for
``LIVE_TTL_S`` goes away too: its writer is gone and its end could not be appended, and
readers blocked on it then finish from the store.

Readers keep only a cursor (the last seq). They take everything pending at once, up to
``batch`` entries (where the subscriber coalesces), with a non-blocking ``XRANGE``; when
there is nothing new they wait for the process's one shared blocking ``XREAD`` (``tail.py``)
to signal that their stream grew, so live followers cost no Redis connection each. Appends
await Redis: a stalled Redis slows the writer instead of letting events pile up in memory.
Redis errors become ``Unavailable`` (503) through ``tokenwire.redis.translated``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tokenwire.errors import LeaseLost
from tokenwire.ids import ConversationId, MessageId
from tokenwire.log.base import Fence, LogMiss, StreamLost
from tokenwire.log.batch import Batch
from tokenwire.log.delivery import Deliver, pulled
from tokenwire.log.tail import Tail
from tokenwire.log.watchers import Watchers
from tokenwire.protocol.events import Event, decode, encode, is_terminal
from tokenwire.redis import FAILURES, connect, translated
from tokenwire.redis.pubsub import Channel
from tokenwire.settings import Settings

LIVE_TTL_S = 15 * 60
_WHAT = "the event log"  # what is unavailable when Redis is
BLOCK_MS = 2000  # below the socket timeout: a blocked read must not look like a dead socket

_APPEND = """
if KEYS[2] and redis.call('GET', KEYS[2]) ~= ARGV[5] then
  return redis.error_reply('ERR lease lost')
end
local seq = tonumber(ARGV[1])
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #top == 0 then
  if seq ~= 0 then
    return redis.error_reply('ERR stream lost: seq ' .. seq .. ' on an empty stream')
  end
else
  local last = tonumber(string.match(top[1][1], '%-(%d+)$'))
  if seq == last and top[1][2][2] == ARGV[2] then
    -- This very event: a retry of an append whose answer was lost with its connection.
    return seq
  end
  if top[1][2][4] == '1' then
    return redis.error_reply('ERR stream already ended')
  end
  if seq > last + 1 then
    -- Events this writer appended are gone: readers must finish from the store.
    redis.call('DEL', KEYS[1])
    return redis.error_reply('ERR stream lost: seq ' .. seq .. ' after ' .. last)
  end
  if seq ~= last + 1 then
    return redis.error_reply('ERR seq ' .. seq .. ' out of order (next is ' .. (last + 1) .. ')')
  end
end
redis.call('XADD', KEYS[1], '1-' .. seq, 'e', ARGV[2], 't', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return seq
"""


# Replace a stream with the given events (seqs 0..n-1), none of them terminal.
_REOPEN = """
redis.call('DEL', KEYS[1])
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], '1-' .. (i - 2), 'e', ARGV[i], 't', '0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return #ARGV - 1
"""


def _entry_seq(entry_id: bytes) -> int:
    return int(entry_id.rpartition(b"-")[2])


class RedisEventLog:
    """``EventLog`` on Redis Streams, shared by every instance of a deployment."""

    def __init__(self, redis: Redis, *, prefix: str = "tokenwire:", ttl_s: float = 3600.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._append = redis.register_script(_APPEND)
        self._reopen = redis.register_script(_REOPEN)
        self._watchers = Watchers()
        self._announcements = Channel(redis, prefix + "announce", self._announced)
        self._tail = Tail(redis, block_ms=BLOCK_MS)
        self._takes: dict[tuple[str, int, int, int], asyncio.Future[Batch]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.redis_url:
            raise ValueError("RedisEventLog needs TOKENWIRE_REDIS_URL")
        return cls(
            connect(settings.redis_url, max_connections=settings.redis_max_connections),
            prefix=settings.redis_prefix,
            ttl_s=settings.log_ttl_s,
        )

    def key(self, message_id: str) -> str:
        return f"{self.prefix}log:{message_id}"

    # writing -----------------------------------------------------------------------------

    async def append(self, event: Event, *, fence: Fence | None = None) -> None:
        terminal = is_terminal(event)
        ttl_ms = self._ttl_ms if terminal else LIVE_TTL_S * 1000
        keys = [self.key(event.message_id)]
        args: list[str | int] = [
            event.seq,
            encode(event).decode(),
            "1" if terminal else "0",
            ttl_ms,
        ]
        if fence is not None:
            keys.append(fence.key)
            args.append(fence.holder)
        with translated(_WHAT):
            try:
                await self._append(keys=keys, args=args)
            except ResponseError as exc:
                if "lease lost" in str(exc):
                    raise LeaseLost(f"reply {event.message_id} is owned elsewhere now") from exc
                if "stream lost" in str(exc):
                    raise StreamLost(
                        f"reply {event.message_id}: {str(exc).removeprefix('ERR ')}",
                        retry_after=5,
                    ) from exc
                if "out of order" in str(exc) or "seq 0" in str(exc) or "ended" in str(exc):
                    raise ValueError(f"{event.message_id}: {exc}") from exc
                raise

    async def reopen(self, message_id: MessageId, events: Sequence[Event]) -> None:
        args: list[str | int] = [LIVE_TTL_S * 1000, *(encode(e).decode() for e in events)]
        with translated(_WHAT):
            await self._reopen(keys=[self.key(message_id)], args=args)

    # reading -----------------------------------------------------------------------------

    async def read(
        self, message_id: MessageId, after: int, *, batch: int = 512
    ) -> AsyncGenerator[list[Event]]:
        key = self.key(message_id)
        cursor = max(after, -1)
        # What is there already is taken without the shared reader: replays of finished
        # replies, the most common reads, never involve it.
        while events := await self._take(key, cursor, batch):
            cursor = events[-1].seq
            yield events
            if is_terminal(events[-1]):
                return
        if await self._ended(message_id, key, cursor):
            return
        async with self._tail.follow(key, cursor) as grew:
            while True:
                grew.clear()  # before the read: growth from now on sets it again
                events = await self._shared_take(key, cursor, batch, self._tail.growth(key))
                if events:
                    cursor = events[-1].seq
                    yield events
                    if is_terminal(events[-1]):
                        return
                    continue
                if await self._ended(message_id, key, cursor):
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(BLOCK_MS / 1000):
                        await grew.wait()

    async def relay(
        self, message_id: MessageId, after: int, deliver: Deliver, *, batch: int = 512
    ) -> None:
        # Each follower reads in its own task: what a follower's append wakes it to read is
        # one shared ``XRANGE`` (``_shared_take``), but the wake-ups come from the tail, not
        # from an appender in this process.
        await pulled(self.read(message_id, after, batch=batch), deliver)

    async def _shared_take(self, key: str, cursor: int, batch: int, growth: int) -> Batch:
        """``_take``, one read for every live follower at the same point after the same growth.

        A read in flight for the same stream, cursor and size, started by a follower that had
        seen the same number of growths, was sent after every entry those growths announced:
        it answers this follower as well. Followers woken by one append so make one ``XRANGE``
        and get one ``Batch``, whose encodings they then share too.
        """
        k = (key, cursor, batch, growth)
        pending = self._takes.get(k)
        if pending is None:
            pending = self._takes[k] = asyncio.ensure_future(self._take(key, cursor, batch))
            pending.add_done_callback(lambda done: self._took(k, done))
        # A follower that goes away leaves the read to the others.
        return await asyncio.shield(pending)

    def _took(self, k: tuple[str, int, int, int], done: asyncio.Future[Batch]) -> None:
        if self._takes.get(k) is done:
            del self._takes[k]
        if not done.cancelled():
            done.exception()  # retrieved here: its followers may all have gone

    async def _take(self, key: str, cursor: int, batch: int) -> Batch:
        """Up to ``batch`` events after ``cursor``, without waiting."""
        start = f"(1-{cursor}" if cursor >= 0 else "-"
        with translated(_WHAT):
            entries: Any = await self.redis.xrange(key, min=start, max="+", count=batch)
        return Batch(decode(fields[b"e"]) for _id, fields in entries)

    async def _ended(self, message_id: MessageId, key: str, cursor: int) -> bool:
        """Nothing after ``cursor``: has the stream ended there? ``LogMiss`` if it is gone."""
        top = await self._top(key)
        if top is None:
            raise LogMiss(message_id)
        top_seq, top_terminal = top
        return top_seq <= cursor and top_terminal

    async def _top(self, key: str) -> tuple[int, bool] | None:
        with translated(_WHAT):
            entries: Any = await self.redis.xrevrange(key, count=1)
        if not entries:
            return None
        entry_id, fields = entries[0]
        return _entry_seq(entry_id), fields.get(b"t") == b"1"

    async def snapshot(self, message_id: MessageId) -> list[Event]:
        """Every event the log holds for the reply, without waiting for more: what an instance
        taking over a reply rebuilds its text from. Raises ``LogMiss`` when there are none."""
        with translated(_WHAT):
            entries: Any = await self.redis.xrange(self.key(message_id))
        if not entries:
            raise LogMiss(message_id)
        return Batch(decode(fields[b"e"]) for _id, fields in entries)

    # announcements -----------------------------------------------------------------------

    async def announce(self, conversation_id: ConversationId, message_id: MessageId) -> None:
        await self._announcements.publish(f"{conversation_id} {message_id}".encode())

    def _announced(self, payload: bytes) -> None:
        conversation_id, _, message_id = payload.decode().partition(" ")
        self._watchers.publish(ConversationId(conversation_id), MessageId(message_id))

    def watch(
        self, conversation_id: ConversationId
    ) -> AbstractAsyncContextManager[AsyncIterator[MessageId]]:
        # The process-wide subscription is confirmed before the caller goes on: an
        # announcement published after that point reaches the watch.
        return self._watchers.watch(conversation_id, ready=self._announcements.ready)

    async def close(self) -> None:
        await self._tail.close()
        await self._announcements.close()
        with contextlib.suppress(*FAILURES):
            await self.redis.aclose()
