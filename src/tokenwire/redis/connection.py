"""Connecting to Redis, and what its failures become."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from tokenwire.errors import Unavailable

__all__ = ["FAILURES", "RETRY_AFTER_S", "connect", "translated"]

# What a Redis call fails with when Redis is down or unreachable (a socket error can escape
# redis-py while it reconnects).
FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError)

RETRY_AFTER_S = 5.0  # what a client is told to wait when Redis is unavailable


def connect(
    url: str,
    *,
    max_connections: int = 64,
    name: str = "tokenwire",
    timeout_s: float = 10.0,
    connect_timeout_s: float = 5.0,
) -> Redis:
    """A client on a bounded pool: a burst of readers queues for a connection instead of
    opening one each (and keeping them all open afterwards). Its connections carry ``name``
    in ``CLIENT LIST``. ``timeout_s`` bounds one command and the wait for a free connection:
    waiting longer, Redis is as good as down."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        client_name=name,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=connect_timeout_s,
        health_check_interval=30,
        # A pooled connection may have died with a Redis restart: reconnect and retry once
        # or twice. Timeouts are not retried: a stalled Redis must slow the writer down,
        # not be waited on several times over.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError],
    )
    return Redis.from_pool(pool)  # which closes the pool with the client


@contextlib.contextmanager
def translated(what: str = "Redis") -> Iterator[None]:
    """Raise a ``RedisError`` of the block as ``Unavailable`` (503, ``Retry-After``) saying
    that ``what`` is unavailable: the one place Redis errors are translated."""
    try:
        yield
    except RedisError as exc:
        raise Unavailable(f"{what} is unavailable: {exc}", retry_after=RETRY_AFTER_S) from exc
