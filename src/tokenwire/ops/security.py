"""Browser safety: security headers on every response, and the ``Origin`` of WebSockets.

Browsers do not apply CORS to WebSockets: any page can open one to any server. The handshake
carries the page's ``Origin``, so the server checks it against the same list as CORS
(``cors_origins``): an origin listed there, or the server's own, is let in; any other
browser origin is refused with 403. A request without ``Origin`` is not a browser's (the SDK,
curl, a seed client) and is let in: a bearer token, not the origin, authenticates.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenwire.errors import Forbidden
from tokenwire.http.errors import refuse

__all__ = [
    "OriginCheck",
    "SecurityHeaders",
    "content_security_policy",
    "origin_allowed",
    "same_origin",
]

Reject = Callable[[str], None]  # told the name of the limit that refused a request

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


class OriginNotAllowed(Forbidden):
    """A browser page of a foreign origin tried to open a WebSocket."""

    code = "origin_not_allowed"


def content_security_policy(host: str | None) -> str:
    """No inline script or style anywhere; sockets only to this very host when it is known
    (``'self'`` covers ws: and wss: in CSP 3, but not in every browser that is still about)."""
    sockets = f"ws://{host} wss://{host}" if host and _HOST.fullmatch(host) else "ws: wss:"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self' {sockets}; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )


@functools.lru_cache(maxsize=64)
def _extra(host: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of a response to ``host``: the same few hosts ask again and again."""
    return (
        (b"content-security-policy", content_security_policy(host).encode("latin-1")),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class SecurityHeaders:
    """Adds CSP, ``nosniff``, ``no-referrer`` and ``DENY`` framing to every HTTP response
    that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            # Made at the response's start, not held by every open stream for its lifetime.
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _extra(_header(scope, b"host")) if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def origin_allowed(origin: str | None, host: str | None, allowed: Sequence[str]) -> bool:
    """Whether a WebSocket handshake from ``origin`` may open on ``host``."""
    if origin is None:
        return True  # not a browser
    if "*" in allowed or origin in allowed:
        return True
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    return bool(netloc) and host is not None and netloc.lower() == host.lower()


def same_origin(
    origin: str | None, fetch_site: str | None, host: str | None, trusted: Sequence[str] = ()
) -> bool:
    """Whether a request may be authenticated by the session cookie: only the page's own
    origin may use it, or an origin listed by name in ``trusted`` (``cors_origins``: a
    proxy in front that rewrites ``Host``). SameSite=Strict already keeps the cookie off
    cross-site requests; this also refuses another origin of the same site (another port on
    the same host), which browsers count as same-site. ``Sec-Fetch-Site`` (Fetch Metadata)
    says so when the browser sends it; ``Origin`` is checked when present; a request with
    neither is a navigation or a same-origin GET."""
    if origin is not None and origin != "*" and origin in trusted:
        return True
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    return bool(netloc) and host is not None and netloc.lower() == host.lower()


class OriginCheck:
    """Refuses (403 ``origin_not_allowed``) WebSocket handshakes from foreign browser pages."""

    def __init__(self, app: ASGIApp, *, allowed: Sequence[str], on_reject: Reject) -> None:
        self.app = app
        self.allowed = list(allowed)
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            origin = _header(scope, b"origin")
            if not origin_allowed(origin, _header(scope, b"host"), self.allowed):
                self.on_reject("origin")
                exc = OriginNotAllowed(f"WebSockets from {origin} are not allowed here")
                await refuse(scope, receive, send, exc)
                return
        await self.app(scope, receive, send)
