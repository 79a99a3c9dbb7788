"""A streaming response's body, handed from the route to the outermost middleware.

An SSE response or a WebSocket may stay open for minutes, most of them idle. Run where the
route returns it, it keeps every layer between that middleware and the route suspended then:
the framework's exit stacks, the request and its solved dependencies, each middleware's
frame and closures, and it sends every event through each of their ``send`` wrappers.

So the middleware that observes every answer (``ops/traffic.py``) puts a ``Slot`` in the
scope. A response sends its start through the whole chain (every layer adds its headers and
sees the status; a socket's accept), puts the rest of its work in the slot and returns; the
layers inside unwind, and that middleware runs the body with its own ``receive`` and ``send``
(a socket keeps using its ``WebSocket``, whose wrappers are small closures). A layer that
holds something for the connection's lifetime (a socket's slot in ``ops/limits.py``) gives it
back after the body, with ``then``. Without a slot (an
app built without that middleware) the response runs its body where it is.

What the body may rely on: the layers inside have finished. Nothing there may act on the
body's messages (none does: they look at the response's start, or at the request), and
a dependency's clean-up has run (none of the streaming routes has one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from starlette.types import Receive, Scope, Send

__all__ = ["Body", "Slot", "hand_off", "offer", "then", "unwound"]

KEY = "tokenwire.body"

Body = Callable[[Receive, Send], Awaitable[None]]


class Slot:
    """Where a response leaves its body; an object, so that a layer that copies the scope
    still reaches the same slot."""

    __slots__ = ("body",)

    def __init__(self) -> None:
        self.body: Body | None = None

    def take(self) -> Body | None:
        body, self.body = self.body, None
        return body


def offer(scope: Scope) -> Slot:
    """Called by the middleware that will run a body handed to it."""
    slot = Slot()
    scope[KEY] = slot
    return slot


def hand_off(scope: Scope, body: Body) -> bool:
    """Leave ``body`` to the middleware that offered a slot; False when none did (or a body
    is already there), and the caller runs it itself."""
    slot = scope.get(KEY)
    if not isinstance(slot, Slot) or slot.body is not None:
        return False
    slot.body = body
    return True


def then(scope: Scope, after: Callable[[], None]) -> bool:
    """Call ``after`` once the body left in the slot has run; False when there is none (the
    response ran where it was, and the caller's own clean-up comes after it as usual)."""
    slot = scope.get(KEY)
    body = slot.body if isinstance(slot, Slot) else None
    if slot is None or body is None:
        return False

    async def body_then(receive: Receive, send: Send) -> None:
        try:
            await body(receive, send)
        finally:
            after()

    slot.body = body_then
    return True


def unwound(scope: Scope) -> None:
    """Drop what the layers inside left in the scope for themselves and no longer use: the
    framework's exit stacks (closed once the route returned), which the scope would
    otherwise keep for as long as the body runs."""
    for key in [key for key, value in scope.items() if isinstance(value, AsyncExitStack)]:
        del scope[key]
