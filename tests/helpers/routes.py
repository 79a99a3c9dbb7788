"""The app's API routes, those of included routers too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """The routes, those of included routers too (FastAPI keeps each included router whole,
    in a wrapper holding it as ``original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        inner = getattr(route, "original_router", None) or route
        if inner is not route or isinstance(route, Mount):
            yield from api_routes(getattr(inner, "routes", []))
