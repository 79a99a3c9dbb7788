"""What every dialect router shares: errors in the dialect's own shape, and the app's
services for a request.

A dialect's clients cannot read tokenwire's canonical ``{"error": {...}}`` body, so each
router is built with ``dialect_route(render)``: any ``TokenwireError`` raised while handling
one of its requests (authentication included) is answered by ``render`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from tokenwire.errors import BadRequest, TokenwireError

Render = Callable[[Request, TokenwireError], Response]


def status_headers(exc: TokenwireError) -> dict[str, str]:
    """The headers an error status asks for: ``Retry-After``, ``WWW-Authenticate``."""
    headers: dict[str, str] = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return headers


def dialect_route(render: Render) -> type[APIRoute]:
    """An ``APIRoute`` class whose errors ``render`` turns into the dialect's response."""

    class DialectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except TokenwireError as exc:
                    return render(request, exc)
                except RequestValidationError as exc:
                    details = "; ".join(str(e.get("msg", e)) for e in exc.errors()[:3])
                    return render(request, BadRequest(f"invalid request: {details}"))

            return guarded

    return DialectRoute
