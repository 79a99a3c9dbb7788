"""The counters behind the limits: request rates over a sliding window, and held slots.

Two implementations of one ``Counters`` interface: ``MemoryCounters`` for one process, and
``RedisCounters`` (``redis_counters.py``) shared by every instance of a deployment, apart so
that a server without Redis does not import its client.

Rates use a sliding window counter: the count of the current fixed window plus the count of
the previous one weighted by how much of it the sliding window still covers. Unlike a plain
fixed window it admits no burst of twice the limit around a window's edge, and it costs two
integers per key. Slots (concurrent streams, open sockets) are leases: a member of a set per
key. In Redis that is a sorted set scored by expiry, refreshed while the lease is held, so the
slots of an instance that dies free themselves after ``lease_ttl_s``.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Counters", "MemoryCounters", "drop", "wait_s"]


class Counters(Protocol):
    async def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        """Count one event under ``key``; ``None`` when it fits in ``limit`` per window,
        else (without counting it) the seconds until one more would fit."""
        ...

    async def acquire(self, key: str, *, limit: int) -> str | None:
        """Hold one of ``limit`` slots under ``key``: the lease, or ``None`` when all are held."""
        ...

    def release(self, key: str, lease: str) -> None:
        """Give a slot back. Synchronous so that it can be called from anywhere, even a done
        callback; a remote release completes in the background."""
        ...

    async def ping(self) -> None:
        """Raise when the counters cannot be reached."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def drop(held: dict[str, set[str]], key: str, lease: str) -> None:
    """Forget ``lease`` among the slots held for ``key``, and the key once none is left."""
    leases = held.get(key)
    if leases is not None:
        leases.discard(lease)
        if not leases:
            del held[key]


def wait_s(previous: float, current: float, elapsed: float, window: float, limit: int) -> float:
    """Seconds until a sliding window estimate ``previous * (1 - elapsed/window) + current``
    drops below ``limit``, if nothing else is counted meanwhile."""
    if current < limit:
        # Only the previous window's share is in the way; it shrinks as time goes on.
        fits_at = window * (1 - (limit - current) / previous) if previous > 0 else 0.0
        return max(0.0, fits_at - elapsed)
    # The current window alone is full: once it is the previous one, its share shrinks too.
    return (window - elapsed) + window * (1 - limit / current)


@dataclass(slots=True)
class _Window:
    index: int
    previous: int
    current: int


class MemoryCounters:
    """Counters of one process."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._slots: dict[str, set[str]] = {}
        self._hits = 0

    async def hit(self, key: str, *, limit: int, window_s: float) -> float | None:
        now = time.monotonic()
        index = math.floor(now / window_s)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(index, 0, 0)
        elif window.index != index:
            window.previous = window.current if window.index == index - 1 else 0
            window.current = 0
            window.index = index
        elapsed = now - index * window_s
        if window.previous * (window_s - elapsed) / window_s + window.current >= limit:
            return wait_s(window.previous, window.current, elapsed, window_s, limit)
        window.current += 1
        self._hits += 1
        if self._hits % 4096 == 0:
            self._prune(index)
        return None

    def _prune(self, index: int) -> None:
        # Keys idle for two windows count nothing any more; dropping them bounds the memory.
        stale = [k for k, w in self._windows.items() if w.index < index - 1]
        for k in stale:
            del self._windows[k]

    async def acquire(self, key: str, *, limit: int) -> str | None:
        held = self._slots.setdefault(key, set())
        if len(held) >= limit:
            return None
        lease = uuid.uuid4().hex
        held.add(lease)
        return lease

    def release(self, key: str, lease: str) -> None:
        drop(self._slots, key, lease)

    async def ping(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None
