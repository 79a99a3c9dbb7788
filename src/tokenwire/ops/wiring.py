"""How operations attach to an app: one ``Operations`` per app, made with it.

Middleware order matters. From the outside in::

    Traffic          request id, log line, HTTP metrics: sees every answer, 413s and 429s too;
                     runs the bodies of streams handed to it (``http/handoff.py``)
    SecurityHeaders  on every HTTP answer
    BodyLimit, CORS  (api/app.py)
    OriginCheck      foreign browser pages get no WebSocket
    RequestLimits    rates per address and per user, before any work
    SocketLimits     open WebSockets per user, counted at the accept
    the routes

The limits sit inside CORS so that a browser can read a 429's body. An SSE stream's body
and a WebSocket's session run in ``Traffic`` once they have started, with the layers inside
returned: a middleware added inside it sees a stream's start (its headers, its status) but
not its body's messages, and gives back what it holds for a connection with
``handoff.then``.
"""

from __future__ import annotations

from fastapi import FastAPI

from tokenwire.engine.hooks import HookChain, Hooks
from tokenwire.ops.counters import Counters, MemoryCounters
from tokenwire.ops.limits import Limiter, RequestLimits, SocketLimits
from tokenwire.ops.logs import ReplyLog
from tokenwire.ops.metrics import Metrics
from tokenwire.ops.security import OriginCheck, SecurityHeaders
from tokenwire.ops.traffic import Traffic
from tokenwire.providers.base import Provider
from tokenwire.settings import Settings

__all__ = ["Operations"]


def create_counters(settings: Settings) -> Counters:
    """In Redis when a Redis is configured (then every instance shares them), else here."""
    url = settings.limits_redis_url or settings.redis_url
    if not url:
        return MemoryCounters()
    from tokenwire.ops.redis_counters import RedisCounters  # only a server with Redis needs it

    return RedisCounters.from_url(
        url,
        prefix=settings.redis_prefix + "limits:",
        # Long enough to ride out a slow event loop, short enough that a crashed instance's
        # slots come back to its users soon.
        lease_ttl_s=max(30.0, settings.lease_ttl_s),
    )


class Operations:
    """Metrics, logs, limits, browser safety and readiness for one app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.counters = create_counters(settings)
        self.limiter = Limiter(settings, self.counters, on_reject=self.metrics.rejected)
        self.hooks: Hooks = HookChain(self.metrics, ReplyLog())

    def install_limits(self, app: FastAPI) -> None:
        """The inner middleware: call before CORS and the body limit are added."""
        app.add_middleware(SocketLimits, limiter=self.limiter)
        app.add_middleware(RequestLimits, limiter=self.limiter)
        app.add_middleware(
            OriginCheck, allowed=self.settings.cors_origins, on_reject=self.metrics.rejected
        )

    def install_observers(self, app: FastAPI) -> None:
        """The outer middleware: call after every other middleware is added."""
        app.add_middleware(SecurityHeaders)
        app.add_middleware(Traffic, metrics=self.metrics)

    def watch(self, provider: Provider) -> None:
        """Report the provider's queue in the metrics."""
        self.metrics.watch_provider(provider)

    async def start(self) -> None:
        await self.counters.start()

    async def close(self) -> None:
        await self.counters.close()
