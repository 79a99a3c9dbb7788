"""Who runs a reply: a lease in Redis, held by one instance and renewed while it runs.

``<prefix>lease:<message id>`` holds the owner's instance id and expires ``lease_ttl_s``
after the last renewal. Taking it is ``SET NX PX``, so of several instances that find a reply
without an owner exactly one gets it. Renewing and releasing check the holder first, in one
script each, so an instance that lost its lease (it stalled past the TTL and another took
over) can never extend or delete the new owner's.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from tokenwire.redis import translated

# KEYS: the leases; ARGV: the instance id, the TTL in ms. Returns 1 per lease still held.
_RENEW = """
local held = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    held[i] = 1
  else
    held[i] = 0
  end
end
return held
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Leases:
    """The leases of one instance (``instance``) over a Redis shared by the deployment."""

    def __init__(self, redis: Redis, *, prefix: str, instance: str, ttl_s: float) -> None:
        self.instance = instance
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self._redis = redis
        self._prefix = prefix
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def key(self, message_id: str) -> str:
        return f"{self._prefix}lease:{message_id}"

    async def acquire(self, message_id: str) -> bool:
        """Take the lease if nobody holds it; ``True`` when this instance now does."""
        with translated():
            taken = await self._redis.set(
                self.key(message_id), self.instance, nx=True, px=self.ttl_ms
            )
        return bool(taken)

    async def renew(self, message_ids: Sequence[str]) -> set[str]:
        """Extend the leases this instance holds; returns the ids whose lease it lost."""
        if not message_ids:
            return set()
        with translated():
            held: Any = await self._renew(
                keys=[self.key(m) for m in message_ids], args=[self.instance, self.ttl_ms]
            )
        return {m for m, h in zip(message_ids, held, strict=True) if not h}

    async def holds(self, message_id: str) -> bool:
        """Whether this instance holds the lease right now (the fence before a final write)."""
        with translated():
            holder = await self._redis.get(self.key(message_id))
        if isinstance(holder, bytes):
            holder = holder.decode()
        return holder == self.instance

    async def unowned(self, message_ids: Sequence[str]) -> list[str]:
        """The ids among ``message_ids`` whose lease nobody holds."""
        if not message_ids:
            return []
        with translated():
            holders = await self._redis.mget([self.key(m) for m in message_ids])
        return [m for m, h in zip(message_ids, holders, strict=True) if h is None]

    async def count_takeover(self, message_id: str) -> int:
        """Count one more takeover of the reply; returns how many there have been. The count
        outlives the leases (a day), so a reply that keeps taking its instances down is
        not continued forever. Each takeover is a member of a set rather than an increment:
        the client retries a call whose answer was lost with its connection, and the same
        member added again counts once."""
        key = f"{self._prefix}takeovers-of:{message_id}"
        member = f"{self.instance}:{secrets.token_hex(8)}"
        with translated():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, member)
                pipe.expire(key, 24 * 3600)
                pipe.scard(key)
                _, _, count = await pipe.execute()
        return int(count)

    async def release(self, message_id: str) -> None:
        with translated():
            await self._release(keys=[self.key(message_id)], args=[self.instance])
