"""Every route and every dependency of the API runs on the event loop.

FastAPI runs a route or a dependency declared with ``def`` in its thread pool: a trip to a
worker thread and back on every request that uses it. None of the API's needs one (they look
up an attribute, or await the store), so all are ``async``; this walks the app's routes and
their dependencies, nested ones included, and names any that is not.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIWebSocketRoute

from tests.helpers.routes import api_routes
from tokenwire.api.app import create_app
from tokenwire.settings import Settings


def calls(dependant: Dependant) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def test_no_route_or_dependency_runs_in_the_thread_pool() -> None:
    app = create_app(Settings())
    routes = list(api_routes(app.routes))
    walked = {
        (r.path_format, m.lower()) for r in routes if isinstance(r, APIRoute) for m in r.methods
    }
    documented = {(path, m) for path, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= walked  # the whole API, every dialect included
    assert any(isinstance(r, APIWebSocketRoute) for r in routes)
    in_threads = {
        f"{getattr(route, 'path', '?')}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in calls(route.dependant)
        if not inspect.iscoroutinefunction(call)
        and not inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
    }
    assert in_threads == set()
