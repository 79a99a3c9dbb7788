"""Redis, as every part of tokenwire that shares state through it reaches it.

``connect`` makes every client (the event log, leases and commands, the limit counters);
``translated`` is the one place a ``RedisError`` becomes ``Unavailable`` (503); ``FAILURES``
are what a call may fail with where the caller degrades instead (limits let requests through,
background loops retry). ``pubsub.Channel`` is one process-wide subscription to a channel.
"""

from tokenwire.redis.connection import FAILURES, connect, translated

__all__ = ["FAILURES", "connect", "translated"]
