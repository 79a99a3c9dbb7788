"""Limits that keep one user, or one address, from hurting the others.

- requests per minute per client address and per user (429 ``rate_limited``), checked for
  every HTTP request and WebSocket handshake before any other work, probes excepted;
- replies in flight per user (429 ``too_many_streams``), held from the send to the reply's
  end: the engine asks ``Limiter.admit`` before it stores anything;
- open WebSockets per user (429 ``too_many_connections``), held while the socket is open.

The user of a rate is their bearer token (hashed): the check needs no database lookup, so a
flood of requests costs the counters and nothing else. Request body size, content length and
images per message are checked where the request is read (``api/limits.py``, the engine).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.errors import RateLimited
from tokenwire.http import handoff
from tokenwire.http.auth import bearer_token
from tokenwire.http.errors import refuse
from tokenwire.ids import UserId
from tokenwire.ops.counters import Counters
from tokenwire.settings import Settings

__all__ = ["EXEMPT_PATHS", "Limiter", "RequestLimits", "SocketLimits"]

# Probes and scrapes come from the platform, often from one address and often.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

Release = Callable[[], None]


def _retry(seconds: float) -> float:
    return max(1.0, float(seconds))


class Limiter:
    """The limits of the settings over a set of counters (in process, or shared in Redis)."""

    def __init__(
        self, settings: Settings, counters: Counters, on_reject: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.on_reject = on_reject

    async def check_request(self, address: str | None, token: str | None) -> None:
        """Count a request; ``RateLimited`` when its address or its user is over the rate."""
        per_ip = self.settings.requests_per_minute_per_ip
        if per_ip and address is not None:
            wait = await self.counters.hit(f"rate:ip:{address}", limit=per_ip, window_s=60)
            if wait is not None:
                self.on_reject("requests_per_ip")
                raise RateLimited(
                    f"too many requests from this address: the limit is {per_ip} a minute",
                    retry_after=_retry(wait),
                )
        per_user = self.settings.requests_per_minute_per_user
        if per_user and token is not None:
            who = hashlib.sha256(token.encode()).hexdigest()[:32]
            wait = await self.counters.hit(f"rate:user:{who}", limit=per_user, window_s=60)
            if wait is not None:
                self.on_reject("requests_per_user")
                raise RateLimited(
                    f"too many requests for this user: the limit is {per_user} a minute",
                    retry_after=_retry(wait),
                )

    async def admit(self, user_id: UserId) -> Release:
        """Hold one of the user's reply slots (the engine's admission); ``RateLimited`` when
        they all are held. The engine calls the release when the reply ends."""
        return await self._hold(
            f"streams:{user_id}",
            self.settings.max_streams_per_user,
            "streams_per_user",
            "too_many_streams",
            "replies streaming at once",
        )

    async def open_socket(self, user_id: UserId) -> Release:
        """Hold one of the user's WebSocket slots while a socket is open."""
        return await self._hold(
            f"sockets:{user_id}",
            self.settings.max_sockets_per_user,
            "sockets_per_user",
            "too_many_connections",
            "WebSockets open at once",
        )

    async def _hold(self, key: str, limit: int, name: str, code: str, what: str) -> Release:
        if not limit:
            return _nothing
        lease = await self.counters.acquire(key, limit=limit)
        if lease is None:
            self.on_reject(name)
            raise RateLimited(
                f"the limit is {limit} {what} per user; try again when one has ended",
                code=code,
                retry_after=self.settings.busy_retry_after_s,
            )
        released = False

        def release() -> None:
            nonlocal released
            if not released:  # idempotent: a slot is given back once
                released = True
                self.counters.release(key, lease)

        return release


def _nothing() -> None:
    return None


class RequestLimits:
    """Rates per address and per user, before routing."""

    def __init__(self, app: ASGIApp, *, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope["path"] not in EXEMPT_PATHS:
            client = scope.get("client")
            try:
                await self.limiter.check_request(
                    client[0] if client else None, bearer_token(HTTPConnection(scope))
                )
            except RateLimited as exc:
                await refuse(scope, receive, send, exc)
                return
        await self.app(scope, receive, send)


class SocketLimits:
    """Open WebSockets per user.

    The route authenticates the socket and accepts it; the slot is taken at that moment (the
    ``websocket.accept`` message on its way out), so every WebSocket route is covered without
    knowing about this limit. Over the limit, the handshake is answered 429 instead, and the
    route sees a socket that closed at once.
    """

    def __init__(self, app: ASGIApp, *, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        release: Release = _nothing
        refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal release, refused
            if refused:
                return  # the route still thinks the socket is open; nothing reaches the client
            if message["type"] == "websocket.accept":
                user = scope.get("state", {}).get("user")
                if user is not None:
                    try:
                        release = await self.limiter.open_socket(user.id)
                    except RateLimited as exc:
                        refused = True
                        await refuse(scope, receive, send, exc)
                        return
            await send(message)

        async def guarded_receive() -> Message:
            if refused:
                return {"type": "websocket.disconnect", "code": 1008}
            return await receive()

        handed = False
        try:
            await self.app(scope, guarded_receive, guarded_send)
            # An accepted socket's session may run after the route returned
            # (``http/handoff.py``): the slot is held until it ends.
            handed = handoff.then(scope, lambda: release())
        finally:
            if not handed:
                release()
