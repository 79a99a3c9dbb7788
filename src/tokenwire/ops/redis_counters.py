"""``Counters`` in Redis, shared by every instance that uses the same URL and prefix (the
interface and the windows' arithmetic are in ``counters.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from redis.asyncio import Redis

from tokenwire.ops.counters import drop, wait_s
from tokenwire.redis import FAILURES, connect

log = logging.getLogger("tokenwire.limits")

__all__ = ["RedisCounters"]


# Redis's own clock decides windows and expiries, so instances with skewed clocks agree.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local index = math.floor(now / window)
local elapsed = now - index * window
local current_key = KEYS[1] .. ':' .. index
local previous = tonumber(redis.call('GET', KEYS[1] .. ':' .. (index - 1)) or '0')
local current = tonumber(redis.call('GET', current_key) or '0')
if previous * (window - elapsed) / window + current >= limit then
  return {0, previous, current, math.floor(elapsed * 1000)}
end
redis.call('INCR', current_key)
redis.call('PEXPIRE', current_key, math.ceil(window * 2000))
return {1, 0, 0, 0}
"""

# A lease already in the set is a retry of this very acquire, whose answer was lost with its
# connection: it holds its slot, and is not refused for taking the last one itself.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""


class RedisCounters:
    """Counters in Redis, shared by every instance that uses the same URL and prefix.

    When Redis cannot be reached the limits let requests through (and say so in the log):
    an outage of the counters must not become an outage of the service. ``/readyz``
    reports it.
    """

    def __init__(self, redis: Redis, *, prefix: str, lease_ttl_s: float = 30.0) -> None:
        self.redis = redis
        self.prefix = prefix
        self._ttl_ms = max(1000, round(lease_ttl_s * 1000))
        self._hit = redis.register_script(_HIT)
        self._acquire = redis.register_script(_ACQUIRE)
        self._refresh = redis.register_script(_REFRESH)
        self._held: dict[str, set[str]] = {}
        self._releases: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._failing = False

    @classmethod
    def from_url(cls, url: str, *, prefix: str, lease_ttl_s: float = 30.0) -> RedisCounters:
        # Short timeouts: a request waits on these before anything else happens.
        redis = connect(url, name="tokenwire-limits", timeout_s=2, connect_timeout_s=2)
        return cls(redis, prefix=prefix, lease_ttl_s=lease_ttl_s)

    def _unreachable(self, exc: BaseException) -> None:
        if not self._failing:
            log.warning("limit counters unreachable; letting requests through: %s", exc)
        self._failing = True

    def _reached(self) -> None:
        if self._failing:
            log.warning("limit counters reachable again")
        self._failing = False

    async def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        try:
            allowed, previous, current, elapsed_ms = await self._hit(
                keys=[self.prefix + key], args=[window_s, limit]
            )
        except FAILURES as exc:
            self._unreachable(exc)
            return None
        self._reached()
        if allowed:
            return None
        return wait_s(int(previous), int(current), int(elapsed_ms) / 1000, window_s, limit)

    async def acquire(self, key: str, *, limit: int) -> str | None:
        lease = uuid.uuid4().hex
        try:
            taken = await self._acquire(keys=[self.prefix + key], args=[limit, self._ttl_ms, lease])
        except FAILURES as exc:
            self._unreachable(exc)
            return lease  # held nowhere; its release is a harmless no-op
        self._reached()
        if not taken:
            return None
        self._held.setdefault(key, set()).add(lease)
        return lease

    def release(self, key: str, lease: str) -> None:
        drop(self._held, key, lease)
        self._releases.put_nowait((key, lease))

    async def ping(self) -> None:
        await self.redis.ping()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._release_loop(), name="limits release"),
            asyncio.create_task(self._refresh_loop(), name="limits refresh"),
        ]

    async def _release_loop(self) -> None:
        while True:
            key, lease = await self._releases.get()
            try:
                await self.redis.zrem(self.prefix + key, lease)
            except FAILURES as exc:
                self._unreachable(exc)  # the lease expires by itself

    async def _refresh_loop(self) -> None:
        # Held leases are pushed forward well before they expire; a dead process stops doing
        # so and its slots come back to the user within one TTL.
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            for key, leases in list(self._held.items()):
                if not leases:
                    continue
                try:
                    await self._refresh(keys=[self.prefix + key], args=[self._ttl_ms, *leases])
                except FAILURES as exc:
                    self._unreachable(exc)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Queued releases, and slots still held (nothing here holds them any more), go back
        # now, so that users do not wait out a TTL after a restart.
        for key, leases in self._held.items():
            for lease in leases:
                self._releases.put_nowait((key, lease))
        self._held.clear()
        with contextlib.suppress(*FAILURES):
            while not self._releases.empty():
                key, lease = self._releases.get_nowait()
                await self.redis.zrem(self.prefix + key, lease)
        with contextlib.suppress(*FAILURES):
            await self.redis.aclose()
